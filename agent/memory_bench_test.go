package agent

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// BenchmarkMemory states the agent's memory in figures: an agent daemon
// with default settings (lstm, the embedded policy, a log file) after ten
// minutes of 100ms ticks (6000 decisions over the real protocol), then
// under each flood the hardening bounds: 300 stalled Watch streams, 300
// stalled dashboard pages, 200 samples with 3 MB node names. Run it with
// -benchtime 1x; it reports the Go heap in use and the process's RSS
// after each stage (the test binary's own code is part of that RSS).
func BenchmarkMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		dir := b.TempDir()
		src := fmt.Sprintf("node = \"n1\"\nlisten {\n  grpc = \"127.0.0.1:0\"\n  http = \"127.0.0.1:0\"\n}\nlog { file = %q }\n", filepath.Join(dir, "d.jsonl"))
		os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(src), 0o600)
		cfg, diags := LoadConfig(filepath.Join(dir, "a.hcl"))
		if diags.HasErrors() {
			b.Fatal(diags.Error())
		}
		d, err := Start(cfg, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		cc, err := grpc.NewClient(d.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		c := nsraftv1.NewAgentClient(cc)
		ctx, cancel := context.WithCancel(context.Background())

		// Ten minutes of decisions, sampled as a hashicorp follower would.
		host := hostStream(b, ctx, c)
		for k := 0; k < 6000; k++ {
			s := collector.Sample{At: time.Now(), Node: "n1", Role: collector.RoleFollower, Leader: "n2", Term: 3,
				LastContact: time.Duration(10+k%40) * time.Millisecond, HeartbeatGap: time.Duration(50+k%30) * time.Millisecond,
				CPUIdlePct: 60, RTTMean: time.Millisecond, RTTP99: 2 * time.Millisecond, ClusterSize: 3, HeartbeatTimeout: time.Second,
				ElectionTimeout: time.Second, HeartbeatInterval: 100 * time.Millisecond, LeaderLeaseTimeout: 500 * time.Millisecond}
			s.Present = collector.AllFields &^ collector.FieldDiskSync
			host.step(b, s)
		}
		report(b, "default-6000")

		// 300 Watch streams that never read, on a connection of their own
		// (on the host's, their unread data would stall it too).
		wc, err := grpc.NewClient(d.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			b.Fatal(err)
		}
		defer wc.Close()
		for k := 0; k < 300; k++ {
			nsraftv1.NewAgentClient(wc).Watch(ctx, &nsraftv1.WatchRequest{Replay: true})
		}
		// 300 dashboard pages that never read.
		var pages []io.Closer
		for k := 0; k < 300; k++ {
			if resp, err := http.Get("http://" + d.HTTPAddr() + "/events"); err == nil {
				pages = append(pages, resp.Body)
			}
		}
		// The floods took longer than the lease: the host reconnects.
		host = hostStream(b, ctx, c)
		for k := 0; k < 2000; k++ {
			s := collector.Sample{At: time.Now(), Node: "n1", CPUIdlePct: 60, HeartbeatTimeout: time.Second}
			s.Set(collector.FieldCPUIdle | collector.FieldHostTimeouts)
			host.step(b, s)
		}
		report(b, "streams-flood")

		// 200 samples with 3 MB node names, each on a fresh session.
		long := strings.Repeat("x", 3<<20)
		for k := 0; k < 200; k++ {
			st, err := c.Connect(ctx)
			if err != nil {
				continue
			}
			st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Sample{Sample: api.FromSample(collector.Sample{Node: long})}})
			st.Recv()
		}
		report(b, "names-flood")

		for _, p := range pages {
			p.Close()
		}
		cancel()
		cc.Close()
		d.Close()
	}
}

func report(b *testing.B, stage string) {
	b.Logf("%s done", stage)
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), stage+"-heap-MB")
	b.ReportMetric(rssMB(), stage+"-rss-MB")
}

// rssMB reads the process's resident set from /proc (0 elsewhere).
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var kb float64
		if n, _ := fmt.Sscanf(sc.Text(), "VmRSS: %f kB", &kb); n == 1 {
			return kb / 1024
		}
	}
	return 0
}

type benchHost struct {
	st  nsraftv1.Agent_ConnectClient
	seq uint64
}

func hostStream(b *testing.B, ctx context.Context, c nsraftv1.AgentClient) *benchHost {
	st, err := c.Connect(ctx)
	if err != nil {
		b.Fatal(err)
	}
	st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Hello{Hello: &nsraftv1.Hello{Node: "n1", HostKind: "hashicorp", Live: true}}})
	if _, err := st.Recv(); err != nil {
		b.Fatal(err)
	}
	return &benchHost{st: st}
}

func (h *benchHost) step(b *testing.B, s collector.Sample) {
	if err := h.st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Sample{Sample: api.FromSample(s)}}); err != nil {
		b.Fatal(err)
	}
	m, err := h.st.Recv()
	if err != nil {
		b.Fatal(err)
	}
	d := m.GetDirective()
	h.st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Applied{Applied: &nsraftv1.Applied{Seq: d.Seq, Ok: true}}})
}
