package hashicorp

import (
	"io"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/nsraft/nsraft/collector"
)

// RTTs carries what a wrapped transport measures of a node's Raft RPCs —
// round-trip times of AppendEntries (the leader's heartbeats and appends,
// a follower's probes of its leader) and the RPCs that failed — from the
// transport's goroutines to the Adapter, which feeds them to its tracker
// at each Sample. The zero value is ready; it keeps at most rttBacklog
// measurements between samples, dropping the oldest.
type RTTs struct {
	mu  sync.Mutex
	buf []rttRecord
}

type rttRecord struct {
	at     time.Time
	d      time.Duration
	failed bool
}

// rttBacklog bounds what RTTs holds between two samples: the tracker's
// window keeps no more than this anyway.
const rttBacklog = collector.DefaultRTTSize

func (r *RTTs) record(at time.Time, d time.Duration, err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) >= rttBacklog {
		r.buf = append(r.buf[:0], r.buf[1:]...)
	}
	r.buf = append(r.buf, rttRecord{at: at, d: d, failed: err != nil})
}

// feed hands what was measured since the last call to t.
func (r *RTTs) feed(t *collector.Tracker) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, x := range r.buf {
		if x.failed {
			t.RPCFailed(x.at, 1)
		} else {
			t.RTT(x.at, x.d, 0)
		}
	}
	r.buf = r.buf[:0]
}

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
	w.m.record(time.Now(), time.Since(start), err)
	return err
}

func (w *wrapped) RequestVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestVoteRequest, resp *raft.RequestVoteResponse) error {
	err := w.Transport.RequestVote(id, target, args, resp)
	if err != nil {
		w.m.record(time.Now(), 0, err)
	}
	return err
}

func (w *wrapped) InstallSnapshot(id raft.ServerID, target raft.ServerAddress, args *raft.InstallSnapshotRequest, resp *raft.InstallSnapshotResponse, data io.Reader) error {
	err := w.Transport.InstallSnapshot(id, target, args, resp, data)
	if err != nil {
		w.m.record(time.Now(), 0, err)
	}
	return err
}

func (w *wrapped) TimeoutNow(id raft.ServerID, target raft.ServerAddress, args *raft.TimeoutNowRequest, resp *raft.TimeoutNowResponse) error {
	err := w.Transport.TimeoutNow(id, target, args, resp)
	if err != nil {
		w.m.record(time.Now(), 0, err)
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
	w.m.record(time.Now(), rtt, err)
	return resp.LastLog, rtt, err
}

type wrappedPreVote struct{ *wrapped }

func (w *wrappedPreVote) RequestPreVote(id raft.ServerID, target raft.ServerAddress, args *raft.RequestPreVoteRequest, resp *raft.RequestPreVoteResponse) error {
	err := w.Transport.(raft.WithPreVote).RequestPreVote(id, target, args, resp)
	if err != nil {
		w.m.record(time.Now(), 0, err)
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
