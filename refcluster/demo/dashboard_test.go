package demo

import (
	"github.com/nsraft/nsraft/internal/syncbuf"
	"github.com/nsraft/nsraft/internal/wait"

	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromium finds the browser, or skips (fails when NSRAFT_REQUIRE_BROWSER
// is set, as CI sets it: there the browser is installed).
func chromium(t *testing.T) string {
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv("NSRAFT_REQUIRE_BROWSER") != "" {
		t.Fatal("no Chromium found and NSRAFT_REQUIRE_BROWSER is set")
	}
	t.Skip("no Chromium: install Debian's chromium package")
	return ""
}

// TestDashboardInjectsLatencyAndShowsTimeoutsRise starts the demo with its
// dashboard, loads the page in headless Chromium, injects 200±150ms of
// latency on every link with the page's own control, and waits until every
// node's displayed timeout has risen — within the bounds the page displays, both
// taken from the agents' decision events. It saves a screenshot (to
// $NSRAFT_ARTIFACTS when set) and reports the page's decision-to-screen
// latency.
func TestDashboardInjectsLatencyAndShowsTimeoutsRise(t *testing.T) {
	browser := chromium(t)
	demo := exec.Command(nsAgent(t), "demo", "-nodes", "3", "-duration", "0", "-dashboard", "127.0.0.1:0")
	demo.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, err := demo.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr syncbuf.Buffer
	demo.Stderr = &stderr
	if err := demo.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		demo.Process.Signal(syscall.SIGINT)
		done := make(chan struct{})
		go func() { demo.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			syscall.Kill(-demo.Process.Pid, syscall.SIGKILL)
		}
	}()
	urlc, exited := make(chan string, 1), make(chan struct{})
	var stdout syncbuf.Buffer
	go func() {
		defer close(exited)
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`dashboard: (http://\S+)`)
		for sc.Scan() {
			stdout.Write([]byte(sc.Text() + "\n"))
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	// The demo waits up to 60s for its first leader and then says why it
	// has none: wait longer than that, so its own diagnosis is shown.
	var url string
	select {
	case url = <-urlc:
	case <-exited:
		demo.Wait()
		t.Fatalf("the demo exited before printing its dashboard address:\n%s%s", stdout.String(), stderr.String())
	case <-time.After(120 * time.Second):
		t.Fatalf("the demo printed no dashboard address in 120s:\n%s%s", stdout.String(), stderr.String())
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.WindowSize(1300, 1400),
		chromedp.UserDataDir(t.TempDir()))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, 600*time.Second) // generous: a loaded machine (one run took 310s at load 20), and a leader kill to wait through
	defer cancel()

	// displayed reads each node card's timeout and bounds, as shown.
	displayed := func() map[string][3]float64 {
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]map[string]string](`[...document.querySelectorAll("[data-node]")].map(c => {
			const e = c.querySelector(".timeout"); return e ? {node: c.dataset.node, ms: e.dataset.ms, min: e.dataset.min, max: e.dataset.max} : {node: c.dataset.node}})`))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string][3]float64{}
		for _, r := range raw {
			v, _ := strconv.ParseFloat(r["ms"], 64)
			lo, _ := strconv.ParseFloat(r["min"], 64)
			hi, _ := strconv.ParseFloat(r["max"], 64)
			got[r["node"]] = [3]float64{v, lo, hi}
		}
		return got
	}
	// waitFor polls the page until done accepts what it shows, checking
	// every displayed timeout against its displayed bounds on the way.
	waitFor := func(what string, d time.Duration, done func(got map[string][3]float64) bool) map[string][3]float64 {
		return wait.Until(t, d, what, func() (bool, map[string][3]float64) {
			got := displayed()
			for n, v := range got {
				if v[0] < v[1] || v[0] > v[2] {
					t.Fatalf("%s shows %vms outside its bounds [%v, %v]", n, v[0], v[1], v[2])
				}
			}
			return len(got) == 3 && done(got), got
		})
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.ID("apply-latency"))); err != nil {
		t.Fatal(err)
	}
	before := waitFor("three nodes settled at 550ms or less", 60*time.Second, func(got map[string][3]float64) bool {
		for _, v := range got {
			if v[0] <= 0 || v[0] > 550 {
				return false
			}
		}
		return true
	})
	t.Logf("before: %v", before)
	// The page's own control: every link, 200±150ms. Heartbeats then
	// arrive 300-450ms apart and round trips reach 700ms: the RTT floor
	// lifts each node above the 500ms it ran at, each by its own probes.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("link"), ""),
		chromedp.SetValue(chromedp.ID("latency"), "200"),
		chromedp.SetValue(chromedp.ID("jitter"), "150"),
		chromedp.Click(chromedp.ID("apply-latency")),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="control-msg" and (contains(., "done") or contains(., "failed"))]`))); err != nil {
		t.Fatal(err)
	}
	if msg, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector("#control-msg").textContent`)); err != nil || !strings.HasPrefix(msg, "done") {
		t.Fatalf("the latency control: %q, %v", msg, err)
	}
	after := map[string]float64{}
	waitFor("every node's displayed timeout to reach 560ms or more", 60*time.Second, func(got map[string][3]float64) bool {
		for n, v := range got {
			if v[0] >= 560 && after[n] == 0 {
				after[n] = v[0]
			}
		}
		return len(after) == 3
	})
	t.Logf("after 200±150ms latency: %v", after)

	// Switch n1's agent to another strategy from the page: its card then
	// shows decisions by that recommender.
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("node"), "n1"),
		chromedp.SetValue(chromedp.ID("strategy"), "static"),
		chromedp.Click(chromedp.ID("switch")),
		chromedp.WaitVisible(chromedp.Search(`//article[@data-node="n1"]//div[contains(., "· static")]`))); err != nil {
		t.Fatalf("strategy switch: %v", err)
	}
	// Kill the leader from the page: the summary names the new leader and
	// the killed node as down, and its card says how long it has been
	// quiet instead of going on showing "leader · applied".
	type summary struct {
		Leader string   `json:"leader"`
		Term   float64  `json:"term"`
		Up     float64  `json:"up"`
		Down   []string `json:"down"`
	}
	readSummary := func() summary {
		s, err := chromedp.Run(ctx, chromedp.Evaluate[summary](`window.nsSummary || {}`))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old := wait.Until(t, 30*time.Second, "the summary to show a leader with every node up", func() (bool, summary) {
		s := readSummary()
		return s.Leader != "" && len(s.Down) == 0, s
	})
	if err := chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("node"), old.Leader),
		chromedp.Click(chromedp.Search(`//form[@id="f-node"]/button[@data-kind="kill"]`)),
		chromedp.WaitVisible(chromedp.Search(`//p[@id="control-msg" and contains(., "done: kill")]`))); err != nil {
		t.Fatalf("kill %s: %v", old.Leader, err)
	}
	now := wait.Until(t, 60*time.Second, "the summary to show a new leader and "+old.Leader+" down", func() (bool, summary) {
		s := readSummary()
		return s.Leader != "" && s.Leader != old.Leader && len(s.Down) == 1 && s.Down[0] == old.Leader && s.Term > old.Term, s
	})
	t.Logf("summary before the kill %+v, after %+v", old, now)
	card, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('[data-node="`+old.Leader+`"]').className + " | " + document.querySelector('[data-node="`+old.Leader+`"] .age').textContent`))
	if err != nil || !strings.Contains(card, "stale") || !strings.Contains(card, "no decision for") {
		t.Fatalf("the killed leader's card: %q (%v)", card, err)
	}

	stats, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]float64](`window.nsStats`))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("page: %v decisions shown, decision-to-screen p50 %vms p99 %vms", stats["events"], stats["latP50"], stats["latP99"])
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("NSRAFT_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	os.MkdirAll(dir, 0o755)
	shot := filepath.Join(dir, "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
	// NSRAFT_UPDATE_DOCS=1 refreshes the README's screenshot from this run.
	if os.Getenv("NSRAFT_UPDATE_DOCS") != "" {
		if err := os.WriteFile("../../docs/dashboard.png", png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
