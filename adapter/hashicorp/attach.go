package hashicorp

import "github.com/hashicorp/raft"

// Sidecar is a node linked to its agent: the Adapter and its Link.
type Sidecar struct {
	Adapter *Adapter
	Link    *Link
}

// Attach links a running hashicorp/raft node to the agent at
// link.Target: it starts sampling the node and applying the agent's
// decisions. It never blocks Raft and never fails: an agent that is not
// there yet is retried with backoff, and the node runs on its own
// configuration meanwhile. Close detaches and restores the node's own
// timing.
//
//	rtts := &hashicorp.RTTs{}
//	trans := hashicorp.WrapTransport(netTransport, rtts)
//	r, err := raft.NewRaft(conf, fsm, logs, stable, snaps, trans)
//	…
//	side := hashicorp.Attach(r,
//		hashicorp.Config{NodeID: string(conf.LocalID), LeaderLeaseTimeout: conf.LeaderLeaseTimeout,
//			PreVote: !conf.PreVoteDisabled, Transport: trans, RTTs: rtts},
//		hashicorp.LinkConfig{Target: "unix:///run/ns-agent/n1.sock"})
//	defer side.Close()
func Attach(r *raft.Raft, cfg Config, link LinkConfig) *Sidecar {
	a := New(r, cfg)
	a.Start()
	return &Sidecar{Adapter: a, Link: Connect(a, link)}
}

// Close ends the link and restores the node's own configuration.
func (s *Sidecar) Close() error {
	s.Link.Close()
	return s.Adapter.Close()
}
