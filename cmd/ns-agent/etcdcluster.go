//go:build !sidecar

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/internal/exitcode"
	"github.com/nsraft/nsraft/refcluster"
)

func runEtcdCluster(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etcd-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := refcluster.EtcdClusterOptions{Now: time.Now}
	fs.StringVar(&o.Binary, "etcd", os.Getenv("NSRAFT_ETCD"), "etcd server `binary` (scripts/etcd-build.sh prints one; default $NSRAFT_ETCD)")
	fs.IntVar(&o.Members, "members", 3, "cluster size, 1 to 9")
	fs.StringVar(&o.Dir, "dir", "", "data `dir` (default: a temporary one, removed at exit)")
	fs.DurationVar(&o.HeartbeatInterval, "heartbeat-interval", 100*time.Millisecond, "etcd --heartbeat-interval")
	fs.DurationVar(&o.ElectionTimeout, "election-timeout", time.Second, "etcd --election-timeout")
	fs.DurationVar(&o.Latency, "latency", 0, "latency to inject on every member's peer traffic")
	fs.DurationVar(&o.For, "for", 0, "stop after this long (0: until interrupted)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent etcd-cluster -etcd BIN [-members N]")
		fmt.Fprintln(stderr, "\nStarts a local etcd cluster of real etcd server processes on loopback, each")
		fmt.Fprintln(stderr, "member's peer listener behind its own toxiproxy proxy, and prints the members")
		fmt.Fprintln(stderr, "and an agent configuration for each.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent etcd-cluster -etcd $(scripts/etcd-build.sh | tail -1) -members 3")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.Binary == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if o.Members < 1 || o.Members > 9 {
		fmt.Fprintf(stderr, "ns-agent etcd-cluster: -members %d: want 1 to 9\n", o.Members)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return exitcode.Report(stderr, "ns-agent etcd-cluster", refcluster.RunEtcdCluster(ctx, o, stdout))
}
