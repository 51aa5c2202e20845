package hashicorp

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

type nopFSM struct{}

func (nopFSM) Apply(*raft.Log) any                 { return nil }
func (nopFSM) Snapshot() (raft.FSMSnapshot, error) { return nil, errors.New("no snapshots") }
func (nopFSM) Restore(io.ReadCloser) error         { return nil }

// LocalCluster starts n real hashicorp/raft nodes in this process, over TCP
// on loopback with in-memory stores and HeartbeatTimeout = ElectionTimeout
// = hb, and waits for a leader. It is for examples and tests of code that
// drives a hashicorp/raft node; stop shuts everything down.
func LocalCluster(n int, hb time.Duration) (nodes []*raft.Raft, stop func(), err error) {
	var trans []*raft.NetworkTransport
	var servers []raft.Server
	stop = func() {
		for _, r := range nodes {
			r.Shutdown().Error()
		}
		for _, tr := range trans {
			tr.Close()
		}
	}
	for i := 0; i < n; i++ {
		tr, err := raft.NewTCPTransport("127.0.0.1:0", nil, 3, time.Second, io.Discard)
		if err != nil {
			stop()
			return nil, nil, err
		}
		trans = append(trans, tr)
		servers = append(servers, raft.Server{ID: raft.ServerID(fmt.Sprintf("n%d", i+1)), Address: tr.LocalAddr()})
	}
	for i := 0; i < n; i++ {
		c := raft.DefaultConfig()
		c.LocalID = servers[i].ID
		c.HeartbeatTimeout, c.ElectionTimeout, c.LeaderLeaseTimeout = hb, hb, hb/2
		c.Logger = hclog.NewNullLogger()
		store := raft.NewInmemStore()
		snaps := raft.NewInmemSnapshotStore()
		if err := raft.BootstrapCluster(c, store, store, snaps, trans[i], raft.Configuration{Servers: servers}); err != nil {
			stop()
			return nil, nil, err
		}
		r, err := raft.NewRaft(c, nopFSM{}, store, store, snaps, trans[i])
		if err != nil {
			stop()
			return nil, nil, err
		}
		nodes = append(nodes, r)
	}
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, r := range nodes {
			if r.State() == raft.Leader {
				return nodes, stop, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	stop()
	return nil, nil, errors.New("local cluster: no leader within 10s")
}
