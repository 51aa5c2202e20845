package agent

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/nsraft/nsraft/api/nsraftv1"
)

// TestDashboardKeepsUpWithNineNodes publishes decisions of nine nodes at a
// 100ms tick (90 per second) for ten seconds to a page in headless
// Chromium and checks that it shows every one and the last value of each
// node. The page's decision-to-screen latency is logged, not asserted: on
// a loaded machine wall-clock thresholds only measure the load.
func TestDashboardKeepsUpWithNineNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: drives a headless browser")
	}
	browser := ""
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			browser = p
		}
	}
	if browser == "" {
		if os.Getenv("NSRAFT_REQUIRE_BROWSER") != "" {
			t.Fatal("no Chromium found and NSRAFT_REQUIRE_BROWSER is set")
		}
		t.Skip("no Chromium")
	}
	dash := NewDashboard("nine nodes", nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: dash}
	go srv.Serve(ln)
	defer srv.Close()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate("http://"+ln.Addr().String()+"/"), chromedp.WaitVisible(chromedp.ID("timeline"))); err != nil {
		t.Fatal(err)
	}
	// The page subscribes after load; give its EventSource a moment.
	time.Sleep(500 * time.Millisecond)
	const nodes, ticks = 9, 100
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for i := 0; i < ticks; i++ {
		<-tick.C
		for n := 1; n <= nodes; n++ {
			role, gap := "follower", int64(40+i%7)*1e6
			term := uint64(2 + i/40)
			dash.Publish(&nsraftv1.DecisionEvent{AtUnixNano: time.Now().UnixNano(), Node: fmt.Sprintf("n%d", n), HostKind: "hashicorp",
				Sample:      &nsraftv1.Sample{Node: fmt.Sprintf("n%d", n), Role: &role, Term: &term, HeartbeatGapNs: &gap},
				Recommender: "lstm", ProposalNs: int64(300+i) * 1e6, Confidence: 0.5, DecisionNs: int64(400+i) * 1e6,
				PreviousNs: int64(399+i) * 1e6, MinNs: 150e6, MaxNs: 5e9, Live: true, Applied: true,
				Checks: []*nsraftv1.Check{{Name: "step-up", Pos: "configs/policies/default.hcl:6,1", Effect: "changed", Reason: "capped"}}})
		}
	}
	time.Sleep(time.Second)
	stats, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`window.nsStats`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("9 nodes × 10 decisions/s: %v shown, decision-to-screen p50 %.1fms p99 %.1fms", stats["events"], stats["latP50"], stats["latP99"])
	if stats["events"] != nodes*ticks {
		t.Fatalf("the page showed %v of %d decisions", stats["events"], nodes*ticks)
	}
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-node="n9"] .timeout').dataset.ms`))
	if err != nil || shown != fmt.Sprint(400+ticks-1) {
		t.Fatalf("n9 shows %q (%v), last decided %dms", shown, err, 400+ticks-1)
	}
}

// recordingControls counts the actions the dashboard carried out.
type recordingControls struct {
	mu   sync.Mutex
	done []Action
}

func (c *recordingControls) Nodes() []string      { return []string{"n1", "n2", "n3"} }
func (c *recordingControls) Links() [][2]string   { return [][2]string{{"n1", "n2"}} }
func (c *recordingControls) Strategies() []string { return []string{"static"} }
func (c *recordingControls) Do(_ context.Context, a Action) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.done = append(c.done, a)
	return nil
}

// TestDashboardControlsRefuseOtherSites: another site's page (a form post,
// a fetch with its Origin, a DNS-rebound host name) cannot kill a node;
// the dashboard's own page, with the token it reads from /api/config, can.
func TestDashboardControlsRefuseOtherSites(t *testing.T) {
	ctl := &recordingControls{}
	srv := httptest.NewServer(NewDashboard("t", ctl))
	defer srv.Close()
	post := func(host, origin, token, ctype, body string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/control", strings.NewReader(body))
		if host != "" {
			req.Host = host
		}
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if token != "" {
			req.Header.Set(tokenHeader, token)
		}
		req.Header.Set("Content-Type", ctype)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	kill := `{"kind":"kill","node":"n1"}`
	self := srv.URL // the page's own origin
	for _, tc := range []struct {
		name                       string
		host, origin, token, ctype string
	}{
		{"a form on another site", "", "http://evil.example", "", "text/plain"},
		{"a fetch from another site", "", "http://evil.example", "", "application/json"},
		{"no token", "", self, "", "application/json"},
		{"a wrong token", "", self, "0000", "application/json"},
		{"a DNS-rebound host name", "evil.example:" + strings.Split(srv.URL, ":")[2], "", "", "application/json"},
	} {
		if code := post(tc.host, tc.origin, tc.token, tc.ctype, kill); code != http.StatusForbidden {
			t.Errorf("%s: HTTP %d, want 403", tc.name, code)
		}
	}
	if len(ctl.done) != 0 {
		t.Fatalf("refused requests still acted: %v", ctl.done)
	}

	// The page's own way: read the token, then post JSON with it.
	resp, err := http.Get(srv.URL + "/api/config")
	if err != nil {
		t.Fatal(err)
	}
	var cfg struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&cfg)
	resp.Body.Close()
	if cfg.Token == "" {
		t.Fatal("/api/config gives the page no token")
	}
	if code := post("", self, cfg.Token, "application/json", kill); code != http.StatusNoContent {
		t.Fatalf("the page's own request: HTTP %d", code)
	}
	if code := post("", self, cfg.Token, "text/plain", kill); code != http.StatusUnsupportedMediaType {
		t.Fatalf("a non-JSON body with the token: HTTP %d, want 415", code)
	}
	if len(ctl.done) != 1 || ctl.done[0].Node != "n1" {
		t.Fatalf("actions carried out: %v", ctl.done)
	}
}

// TestDashboardReplaysEveryNodesLastDecision: a node that stopped deciding
// long ago (killed) keeps its card after a reload, even once the replay
// buffer holds only other nodes' events.
func TestDashboardReplaysEveryNodesLastDecision(t *testing.T) {
	d := NewDashboard("t", nil)
	d.Publish(&nsraftv1.DecisionEvent{Node: "n1", DecisionNs: 777e6})
	for i := 0; i < 3*dashboardReplay; i++ {
		d.Publish(&nsraftv1.DecisionEvent{Node: "n2", DecisionNs: int64(i)})
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	first, n := "", 0
	for sc.Scan() && sc.Text() != "event: live" {
		if strings.HasPrefix(sc.Text(), "data: ") {
			if first == "" {
				first = sc.Text()
			}
			n++
		}
	}
	if !strings.Contains(first, `"node":"n1"`) || !strings.Contains(first, `"777000000"`) {
		t.Fatalf("the replay starts with %s, want n1's last decision", first)
	}
	if n > dashboardReplay+1 {
		t.Fatalf("replayed %d events", n)
	}
}

// TestLoopbackOnly: the agent's dashboard refuses clients from elsewhere.
func TestLoopbackOnly(t *testing.T) {
	h := LoopbackOnly(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for addr, want := range map[string]int{"127.0.0.1:5000": http.StatusTeapot, "[::1]:5000": http.StatusTeapot,
		"10.1.2.3:5000": http.StatusForbidden, "192.168.0.9:80": http.StatusForbidden, "garbage": http.StatusForbidden} {
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != want {
			t.Errorf("from %s: HTTP %d, want %d", addr, w.Code, want)
		}
	}
}

// TestDashboardReplayIsBounded: a dashboard holds at most its replay of
// recent events (an agent's own, agentReplay), a new page gets the newest
// of them, and what was trimmed is no longer referenced.
func TestDashboardReplayIsBounded(t *testing.T) {
	d := NewDashboard("t", nil)
	d.SetReplay(10)
	for i := 0; i < 1000; i++ {
		d.Publish(&nsraftv1.DecisionEvent{Node: "n1", DecisionNs: int64(i)})
		d.mu.Lock()
		n, tail := len(d.recent), d.recent[len(d.recent):cap(d.recent)]
		d.mu.Unlock()
		if n > 10 {
			t.Fatalf("after %d events the dashboard holds %d, replay 10", i+1, n)
		}
		for _, e := range tail {
			if e.msg != nil {
				t.Fatalf("after %d events a trimmed event is still referenced", i+1)
			}
		}
	}
	srv := httptest.NewServer(d)
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var got []string
	for sc.Scan() && sc.Text() != "event: live" {
		if strings.HasPrefix(sc.Text(), "data: ") {
			got = append(got, sc.Text())
		}
	}
	if len(got) == 0 || len(got) > 10 || !strings.Contains(got[len(got)-1], `"999"`) {
		t.Fatalf("a new page got %d events, the last %q; want at most 10 ending with decision 999", len(got), got[len(got)-1:])
	}
}
