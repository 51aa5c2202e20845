package agent

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nsraft/nsraft/adapter/hashicorp"
)

// BenchmarkDecisionLatency measures one decision end to end, the way a
// node lives it: the hashicorp adapter samples a real follower, sends the
// sample to an agent daemon, the agent runs the LSTM and the default
// policy, the node applies the directive with ReloadConfig and
// acknowledges. Over a unix socket (the default) and TCP loopback, side
// by side. Budget: p99 ≤ 1ms over the unix socket.
func BenchmarkDecisionLatency(b *testing.B) {
	rs, stop, err := hashicorp.LocalCluster(3, time.Second)
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	var f = rs[0]
	for _, r := range rs {
		if r.State().String() == "Follower" {
			f = r
		}
	}
	for _, tc := range []struct{ name, listen string }{
		{"unix", "unix://%s/agent.sock"},
		{"tcp", "127.0.0.1:0"},
	} {
		b.Run(tc.name, func(b *testing.B) {
			dir := b.TempDir()
			listen := tc.listen
			if tc.name == "unix" {
				listen = fmt.Sprintf(tc.listen, dir)
			}
			src := fmt.Sprintf("node = \"f\"\ntick = \"2ms\"\nlease_ttl = \"1s\"\nlisten { grpc = %q }\nlog {\n  file = %q\n  stderr = false\n}\n",
				listen, filepath.Join(dir, "d.jsonl"))
			os.WriteFile(filepath.Join(dir, "a.hcl"), []byte(src), 0o644)
			cfg, diags := LoadConfig(filepath.Join(dir, "a.hcl"))
			if diags.HasErrors() {
				b.Fatal(diags.Error())
			}
			d, err := Start(cfg, io.Discard)
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			ad := hashicorp.New(f, hashicorp.Config{NodeID: "f", LeaderLeaseTimeout: 500 * time.Millisecond})
			ad.Start()
			defer ad.Close()
			link := hashicorp.Connect(ad, hashicorp.LinkConfig{Target: d.GRPCAddr()})
			defer link.Close()
			for link.Stats().Directives+link.Stats().Refused < 50 {
				time.Sleep(10 * time.Millisecond)
			}
			b.ResetTimer()
			start := link.Stats().Directives + link.Stats().Refused
			for link.Stats().Directives+link.Stats().Refused-start < b.N {
				time.Sleep(time.Millisecond)
			}
			b.StopTimer()
			st := link.Stats()
			b.ReportMetric(float64(st.LatencyP50.Microseconds()), "p50-µs")
			b.ReportMetric(float64(st.LatencyP99.Microseconds()), "p99-µs")
		})
	}
}
