package refcluster

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkPut3Nodes measures acknowledged write throughput of a 3-node
// cluster with default timing, writes sent to the leader by 8 clients.
func BenchmarkPut3Nodes(b *testing.B) {
	ctx := context.Background()
	c, err := Start(ctx, ClusterConfig{Nodes: 3, Binary: binary, Dir: b.TempDir()})
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
	c, err := Start(ctx, ClusterConfig{Nodes: 3, Binary: binary, Dir: b.TempDir()})
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
