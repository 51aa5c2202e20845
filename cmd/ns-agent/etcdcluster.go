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

	"github.com/nsraft/nsraft/refcluster"
)

func runEtcdCluster(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("etcd-cluster", flag.ContinueOnError)
	fs.SetOutput(stderr)
	bin := fs.String("etcd", os.Getenv("NSRAFT_ETCD"), "etcd server `binary` (scripts/etcd-build.sh prints one; default $NSRAFT_ETCD)")
	members := fs.Int("members", 3, "cluster size, 1 to 9")
	dir := fs.String("dir", "", "data `dir` (default: a temporary one, removed at exit)")
	hb := fs.Duration("heartbeat-interval", 100*time.Millisecond, "etcd --heartbeat-interval")
	et := fs.Duration("election-timeout", time.Second, "etcd --election-timeout")
	latency := fs.Duration("latency", 0, "latency to inject on every member's peer traffic")
	forDur := fs.Duration("for", 0, "stop after this long (0: until interrupted)")
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
	if *bin == "" || fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	if *members < 1 || *members > 9 {
		fmt.Fprintf(stderr, "ns-agent etcd-cluster: -members %d: want 1 to 9\n", *members)
		return 2
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "ns-agent-etcd-")
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent etcd-cluster: %v\n", err)
			return 1
		}
		defer os.RemoveAll(d)
		*dir = d
	}
	mesh := refcluster.NewMesh()
	defer mesh.Close()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	start := time.Now()
	c, err := refcluster.StartEtcd(ctx, refcluster.EtcdConfig{Binary: *bin, Dir: *dir, Members: *members, Mesh: mesh,
		HeartbeatInterval: *hb, ElectionTimeout: *et})
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent etcd-cluster: %v\n", err)
		return 1
	}
	defer c.Stop()
	fmt.Fprintf(stdout, "%d etcd members healthy in %v (data in %s)\n", *members, time.Since(start).Round(time.Millisecond), *dir)
	for _, m := range c.Members {
		if *latency > 0 {
			mesh.SetLink(refcluster.Inbound, m.Name, refcluster.LinkFault{Latency: *latency})
		}
		fmt.Fprintf(stdout, "  %s  client %s  peer %s (through toxiproxy at %s)\n", m.Name, m.ClientURL, m.PeerURL, m.Advertise)
	}
	fmt.Fprintf(stdout, "\nan agent beside %s:\n\n  node = %q\n  host {\n    kind = \"etcd\"\n    address = %q\n    heartbeat_interval = %q\n    election_timeout = %q\n  }\n\n",
		c.Members[0].Name, c.Members[0].Name, c.Members[0].ClientURL, hb.String(), et.String())
	if *forDur > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(*forDur):
		}
	} else {
		<-ctx.Done()
	}
	fmt.Fprintln(stdout, "stopping")
	return 0
}
