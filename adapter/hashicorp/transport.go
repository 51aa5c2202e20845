package hashicorp

import (
	"io"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/collector"
)

// RTTs measures a node's Raft RPCs: round-trip times of AppendEntries
// (the leader's heartbeats and appends, a follower's probes of its
// leader) and the RPCs that failed. WrapTransport feeds it; the Adapter
// reads it into each Sample.
type RTTs = collector.RTTWindow

// WrapTransport returns a transport that behaves as t and measures its
// RPCs into rtts. It keeps t's optional capabilities (pre-vote, Close), so
// Raft sees the same transport it would have seen.
func WrapTransport(t raft.Transport, rtts *RTTs) raft.Transport {
	w := &wrapped{Transport: t, m: rtts}
	if _, ok := t.(raft.WithPreVote); ok {
		return &wrappedPreVote{w}
	}
	return w
}

type wrapped struct {
	raft.Transport
	m *RTTs
}

func (w *wrapped) AppendEntries(id raft.ServerID, target raft.ServerAddress, args *raft.AppendEntriesRequest, resp *raft.AppendEntriesResponse) error {
	start := time.Now()
	err := w.Transport.AppendEntries(id, target, args, resp)
	w.m.Record(time.Since(start), err)
	return err
}

func (w *wrapped) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	err := w.Transport.RequestVote(id, target, args, resp)
	if err != nil {
		w.m.Record(0, err)
	}
	return err
}

func (w *wrapped) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	err := w.Transport.InstallSnapshot(id, target, args, resp, data)
	if err != nil {
		w.m.Record(0, err)
	}
	return err
}

func (w *wrapped) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	err := w.Transport.TimeoutNow(id, target, args, resp)
	if err != nil {
		w.m.Record(0, err)
	}
	return err
}

// Close closes the underlying transport when it can be closed.
func (w *wrapped) Close() error {
	if c, ok := w.Transport.(raft.WithClose); ok {
		return c.Close()
	}
	return nil
}

// probeAt measures the round trip to a peer (a follower's leader) with an AppendEntries of
// term 0. Raft rejects an older term before touching any state (it only
// answers with its own term), so the probe is harmless; it travels the
// same connection pool and the same main loop as real heartbeats, so it
// also sees a leader whose loop is stalled.
//
// A leader probes its followers the same way: the answer carries the
// follower's last log index, so the leader learns how far behind each is.
func (w *wrapped) probeAt(local raft.ServerID, id raft.ServerID, target raft.ServerAddress) (lastLog uint64, rtt time.Duration, err error) {
	req := &raft.AppendEntriesRequest{RPCHeader: raft.RPCHeader{ProtocolVersion: raft.ProtocolVersionMax,
		ID: []byte(local), Addr: w.EncodePeer(local, w.LocalAddr())}}
	var resp raft.AppendEntriesResponse
	start := time.Now()
	err = w.Transport.AppendEntries(id, target, req, &resp)
	rtt = time.Since(start)
	w.m.Record(rtt, err)
	return resp.LastLog, rtt, err
}

type wrappedPreVote struct{ *wrapped }

func (w *wrappedPreVote) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	err := w.Transport.(raft.WithPreVote).RequestPreVote(id, target, args, resp)
	if err != nil {
		w.m.Record(0, err)
	}
	return err
}

// prober is what the Adapter needs to probe its leader, or as leader its
// followers.
type prober interface {
	probeAt(local, id raft.ServerID, target raft.ServerAddress) (lastLog uint64, rtt time.Duration, err error)
}

var (
	_ prober = (*wrapped)(nil)
	_ prober = (*wrappedPreVote)(nil)
)
