package refcluster

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPut3Nodes measures acknowledged write throughput of a 3-node
// cluster with default timing, writes sent to the leader by 8 clients.
func BenchmarkPut3Nodes(b *testing.B) {
	ctx := context.Background()
	c, err := Start(ctx, ClusterConfig{Nodes: 3, Binary: nsAgent(b), Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	leader, _, err := c.WaitLeader(wctx)
	cancel()
	if err != nil {
		b.Fatal(err)
	}
	cl := NewClient(5 * time.Second)
	var n atomic.Int64
	b.SetParallelism(4) // 4×GOMAXPROCS clients
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			if _, err := cl.Put(ctx, c.HTTPAddr(leader), fmt.Sprintf("k%d", i%1024), "v"); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "writes/s")
}

// BenchmarkFailoverDefaultTiming measures, with hashicorp/raft's default
// timing (HeartbeatTimeout 1s), the time from SIGKILL of the leader until
// every surviving node agrees on a new leader. Run with -benchtime=5x or
// more; it reports the median and maximum.
func BenchmarkFailoverDefaultTiming(b *testing.B) {
	ctx := context.Background()
	c, err := Start(ctx, ClusterConfig{Nodes: 3, Binary: nsAgent(b), Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Stop()
	var samples []time.Duration
	for i := 0; i < b.N; i++ {
		wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		leader, _, err := c.WaitLeader(wctx)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		time.Sleep(500 * time.Millisecond) // a settled cluster, heartbeats flowing
		start := time.Now()
		if err := c.Kill(leader); err != nil {
			b.Fatal(err)
		}
		wctx, cancel = context.WithTimeout(ctx, 30*time.Second)
		_, _, err = c.WaitLeader(wctx, leader)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
		samples = append(samples, time.Since(start))
		rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err = c.Restart(rctx, leader)
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	b.ReportMetric(float64(samples[len(samples)/2].Milliseconds()), "ms-median")
	b.ReportMetric(float64(samples[len(samples)-1].Milliseconds()), "ms-max")
}

// procUsage reads a process's CPU time (user+system) and resident set
// size from /proc.
func procUsage(b *testing.B, pid int) (cpu time.Duration, rssBytes int64) {
	b.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Skipf("no /proc: %v", err)
	}
	// Fields after the command name (which is in parentheses).
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	rss, _ := strconv.ParseInt(f[21], 10, 64)
	const clkTck = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clkTck, rss * int64(os.Getpagesize())
}

// BenchmarkAgentFootprint runs three nodes, each steered by its own
// `ns-agent run` process at a 100ms tick with the LSTM and the default
// policy, and reports each agent's CPU share of one core and its RSS
// (budget: ≤ 1% and ≤ 30 MB). Each iteration observes 10 seconds.
func BenchmarkAgentFootprint(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	ids := []string{"n1", "n2", "n3"}
	agents, err := StartAgents(ctx, AgentsConfig{Binary: nsAgent(b), Dir: dir + "/agents", IDs: ids})
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
	time.Sleep(2 * time.Second) // links up, models warm
	var cpuShare, rssMB float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		before := map[string]time.Duration{}
		for _, id := range ids {
			before[id], _ = procUsage(b, agents.PID(id))
		}
		start := time.Now()
		time.Sleep(10 * time.Second)
		wall := time.Since(start)
		for _, id := range ids {
			cpu, rss := procUsage(b, agents.PID(id))
			cpuShare = max(cpuShare, float64(cpu-before[id])/float64(wall)*100)
			rssMB = max(rssMB, float64(rss)/(1<<20))
		}
	}
	b.ReportMetric(cpuShare, "max-agent-cpu-%")
	b.ReportMetric(rssMB, "max-agent-rss-MB")
}
