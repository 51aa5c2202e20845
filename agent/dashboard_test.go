package agent

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
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
