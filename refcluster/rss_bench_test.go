package refcluster

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// BenchmarkAgentRSS states real `ns-agent run` processes' resident memory
// over time, with default settings (lstm, the embedded policy, a 100ms
// tick, a decision log, /metrics and the dashboard on loopback), each
// beside a real node of a three-node cluster that it steers: n1's agent is
// the sidecar build (-tags sidecar, as the deploy files use), n2's the full
// build (the same file as the nodes', whose pages it shares), n3's the
// sidecar as the README builds it for production (CGO_ENABLED=0,
// -trimpath, -ldflags "-s -w"). It reports each agent's RSS after 1, 5 and 10
// minutes (NSRAFT_RSS_MINUTES shortens the run: the marks past it are left
// out), then under each flood the hardening bounds — 300 stalled Watch
// streams, 300 stalled dashboard pages, 200 samples with 3 MB node names
// on each agent's socket and page — and 30s after the floods end.
// Budget: 30 MB at 10 minutes. Run with -benchtime 1x.
func BenchmarkAgentRSS(b *testing.B) {
	minutes := 10
	if s := os.Getenv("NSRAFT_RSS_MINUTES"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("NSRAFT_RSS_MINUTES=%q: want a whole number of minutes", s)
		}
		minutes = n
	}
	for i := 0; i < b.N; i++ {
		measureAgentRSS(b, minutes)
	}
}

func measureAgentRSS(b *testing.B, minutes int) {
	ctx := context.Background()
	dir := b.TempDir()
	ids := []string{"n1", "n2", "n3"}
	agents, err := StartAgents(ctx, AgentsConfig{Binary: nsAgent(b), Dir: dir + "/agents", IDs: ids, HTTP: true})
	if err != nil {
		b.Fatal(err)
	}
	defer agents.Stop()
	c, err := Start(ctx, ClusterConfig{Nodes: 3, Binary: nsAgent(b), Dir: dir + "/nodes",
		ExtraArgs: func(id string) []string { return []string{"-agent-addr", agents.Socket(id)} }})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	_, _, err = c.WaitLeader(wctx)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	// n1's agent becomes the sidecar build, n3's the sidecar built as the
	// README builds it for production (static, stripped); n2's stays the
	// full build, the file its node runs too.
	for _, v := range []struct {
		id, bin string
		env     []string
		args    []string
	}{
		{"n1", dir + "/ns-agent-sidecar", nil, []string{"-tags", "sidecar"}},
		{"n3", dir + "/ns-agent-static", []string{"CGO_ENABLED=0"}, []string{"-tags", "sidecar", "-trimpath", "-ldflags", "-s -w"}},
	} {
		build := exec.Command("go", append(append([]string{"build"}, v.args...), "-o", v.bin, "../cmd/ns-agent")...)
		build.Env = append(os.Environ(), v.env...)
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("build %s: %v\n%s", v.bin, err, out)
		}
		if err := agents.Kill(v.id); err != nil {
			b.Fatal(err)
		}
		agents.cfg.Binary = v.bin
		if err := agents.Restart(ctx, v.id); err != nil {
			b.Fatal(err)
		}
	}
	builds := []struct{ id, name string }{{"n1", "sidecar"}, {"n2", "full"}, {"n3", "sidecar-static"}}
	rss := func(stage string) {
		for _, a := range builds {
			_, bytes := procUsage(b, agents.PID(a.id))
			mb := float64(bytes) / (1 << 20)
			b.Logf("%-14s %s agent (%s build) RSS %.1f MB", stage, a.id, a.name, mb)
			b.ReportMetric(mb, a.name+"-rss-"+stage+"-MB")
		}
	}
	start := time.Now()
	for _, mark := range []int{1, 5, 10} {
		if mark > minutes {
			break
		}
		time.Sleep(time.Until(start.Add(time.Duration(mark) * time.Minute)))
		rss(strconv.Itoa(mark) + "min")
	}

	fctx, stop := context.WithCancel(ctx)
	defer stop()
	var pages []io.Closer // connections and pages held open until the floods end
	flood := func(what string, f func(id string)) {
		for _, a := range builds {
			f(a.id)
		}
		time.Sleep(5 * time.Second)
		rss(what)
	}
	clients := map[string]nsraftv1.AgentClient{}
	for _, a := range builds {
		cc, err := grpc.NewClient(agents.Socket(a.id), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer cc.Close()
		clients[a.id] = nsraftv1.NewAgentClient(cc)
	}
	// 300 Watch streams that never read, 30 on each of ten connections
	// (the agent serves at most MaxStreamsPerConn streams per connection).
	flood("watch-flood", func(id string) {
		for k := 0; k < 10; k++ {
			cc, err := grpc.NewClient(agents.Socket(id), grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				b.Fatal(err)
			}
			pages = append(pages, cc)
			for j := 0; j < 30; j++ {
				nsraftv1.NewAgentClient(cc).Watch(fctx, &nsraftv1.WatchRequest{Replay: true})
			}
		}
	})
	// 300 dashboard pages that never read.
	hc := &http.Client{}
	flood("sse-flood", func(id string) {
		for k := 0; k < 300; k++ {
			req, _ := http.NewRequestWithContext(fctx, "GET", "http://"+agents.HTTPAddr(id)+"/events", nil)
			if resp, err := hc.Do(req); err == nil {
				pages = append(pages, resp.Body)
			}
		}
	})
	// 200 samples with 3 MB node names, each on a session of its own,
	// while the node holds the real one.
	long := strings.Repeat("x", 3<<20)
	flood("names-flood", func(id string) {
		for k := 0; k < 200; k++ {
			st, err := clients[id].Connect(fctx)
			if err != nil {
				continue
			}
			st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Hello{Hello: &nsraftv1.Hello{Node: id, HostKind: "hashicorp", Live: true}}})
			st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Sample{Sample: api.FromSample(collector.Sample{Node: long})}})
			st.Recv()
		}
	})
	for _, p := range pages {
		p.Close()
	}
	stop()
	time.Sleep(30 * time.Second)
	rss("after-floods")
	for _, a := range builds {
		if !agents.proc(a.id).alive() {
			b.Fatalf("%s's agent died under the floods", a.id)
		}
	}
}
