package refcluster

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// EtcdClusterOptions is one `ns-agent etcd-cluster`: a local cluster of
// real etcd members, each peer listener behind its own proxy.
type EtcdClusterOptions struct {
	Binary            string // the etcd server
	Members           int
	Dir               string // "": a temporary dir, removed at the end
	HeartbeatInterval time.Duration
	ElectionTimeout   time.Duration
	Latency           time.Duration // injected on every member's peer traffic
	For               time.Duration // how long to keep it up once healthy; 0: until ctx ends
	Now               func() time.Time
}

// RunEtcdCluster starts the cluster, prints its members and an agent
// configuration for the first one to w, and keeps it up for o.For or
// until ctx ends.
func RunEtcdCluster(ctx context.Context, o EtcdClusterOptions, w io.Writer) error {
	if o.Dir == "" {
		d, err := os.MkdirTemp("", "ns-agent-etcd-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.Dir = d
	}
	now := o.Now
	if now == nil {
		now = time.Now
	}
	mesh := NewMesh()
	defer mesh.Close()
	start := now()
	c, err := StartEtcd(ctx, EtcdConfig{Binary: o.Binary, Dir: o.Dir, Members: o.Members, Mesh: mesh,
		HeartbeatInterval: o.HeartbeatInterval, ElectionTimeout: o.ElectionTimeout})
	if err != nil {
		return err
	}
	defer c.Stop()
	fmt.Fprintf(w, "%d etcd members healthy in %v (data in %s)\n", o.Members, now().Sub(start).Round(time.Millisecond), o.Dir)
	for _, m := range c.Members {
		if o.Latency > 0 {
			mesh.SetLink(Inbound, m.Name, LinkFault{Latency: o.Latency})
		}
		fmt.Fprintf(w, "  %s  client %s  peer %s (through toxiproxy at %s)\n", m.Name, m.ClientURL, m.PeerURL, m.Advertise)
	}
	fmt.Fprintf(w, "\nan agent beside %s:\n\n  node = %q\n  host {\n    kind = \"etcd\"\n    address = %q\n    heartbeat_interval = %q\n    election_timeout = %q\n  }\n\n",
		c.Members[0].Name, c.Members[0].Name, c.Members[0].ClientURL, o.HeartbeatInterval.String(), o.ElectionTimeout.String())
	if o.For > 0 {
		select {
		case <-ctx.Done():
		case <-time.After(o.For):
		}
	} else {
		<-ctx.Done()
	}
	fmt.Fprintln(w, "stopping")
	return nil
}
