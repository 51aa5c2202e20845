package refcluster

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/raft"
)

// Status is a node's view of itself and the cluster, served at GET /status.
type Status struct {
	ID                   string `json:"id"`
	Role                 string `json:"role"`
	Term                 uint64 `json:"term"`
	LeaderID             string `json:"leader_id"`
	LeaderAddr           string `json:"leader_addr"`
	LastContactMS        int64  `json:"last_contact_ms"` // -1: never; 0 on the leader
	CommitIndex          uint64 `json:"commit_index"`
	AppliedIndex         uint64 `json:"applied_index"`
	LastLogIndex         uint64 `json:"last_log_index"`
	HeartbeatTimeoutMS   int64  `json:"heartbeat_timeout_ms"`
	ElectionTimeoutMS    int64  `json:"election_timeout_ms"`
	LeaderLeaseTimeoutMS int64  `json:"leader_lease_timeout_ms"`
}

// KVResult is the body of every /kv response.
type KVResult struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Found  bool   `json:"found"`
	Index  uint64 `json:"index,omitempty"`
	Error  string `json:"error,omitempty"`
	NodeID string `json:"node"`
	// Definite is true on an error that guarantees the operation had no
	// effect (it never reached the log); false means the outcome is unknown.
	Definite bool `json:"definite,omitempty"`
}

const (
	applyTimeout  = 5 * time.Second
	forwardHeader = "X-Nsraft-Forwarded-By"
)

func (n *Node) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /status", n.handleStatus)
	mux.HandleFunc("PUT /kv/{key}", n.handleWrite)
	mux.HandleFunc("DELETE /kv/{key}", n.handleWrite)
	mux.HandleFunc("GET /kv/{key}", n.handleRead)
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// StatusOf reads a Raft instance's status; lease is the leader lease
// timeout it started with (not reloadable, so not in ReloadableConfig).
func StatusOf(id string, r *raft.Raft, lease time.Duration) Status {
	st := Status{ID: id, Role: strings.ToLower(r.State().String()), LastContactMS: -1}
	stats := r.Stats()
	st.Term, _ = strconv.ParseUint(stats["term"], 10, 64)
	st.CommitIndex, _ = strconv.ParseUint(stats["commit_index"], 10, 64)
	st.AppliedIndex = r.AppliedIndex()
	st.LastLogIndex = r.LastIndex()
	addr, lid := r.LeaderWithID()
	st.LeaderID, st.LeaderAddr = string(lid), string(addr)
	if r.State() == raft.Leader {
		st.LastContactMS = 0
	} else if lc := r.LastContact(); !lc.IsZero() {
		st.LastContactMS = time.Since(lc).Milliseconds()
	}
	rc := r.ReloadableConfig()
	st.HeartbeatTimeoutMS = rc.HeartbeatTimeout.Milliseconds()
	st.ElectionTimeoutMS = rc.ElectionTimeout.Milliseconds()
	st.LeaderLeaseTimeoutMS = lease.Milliseconds()
	return st
}

func (n *Node) handleStatus(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, StatusOf(n.cfg.ID, n.raft, n.raftCfg.LeaderLeaseTimeout))
}

// forward sends a request a follower received to the leader's HTTP API.
// Forwarding (not redirecting) keeps clients simple; a request that was
// already forwarded once is never forwarded again, so a stale leader view
// cannot make requests loop.
func (n *Node) forward(w http.ResponseWriter, req *http.Request, body []byte) {
	key := req.PathValue("key")
	if req.Header.Get(forwardHeader) != "" {
		writeJSON(w, http.StatusServiceUnavailable, KVResult{Key: key, Error: "not the leader", NodeID: n.cfg.ID, Definite: true})
		return
	}
	_, lid := n.raft.LeaderWithID()
	peer, ok := n.peersByID[string(lid)]
	if lid == "" || !ok || peer.HTTPAddr == "" {
		writeJSON(w, http.StatusServiceUnavailable, KVResult{Key: key, Error: "no known leader", NodeID: n.cfg.ID, Definite: true})
		return
	}
	out, err := http.NewRequestWithContext(req.Context(), req.Method, "http://"+peer.HTTPAddr+req.URL.RequestURI(), strings.NewReader(string(body)))
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, KVResult{Key: key, Error: err.Error(), NodeID: n.cfg.ID, Definite: true})
		return
	}
	out.Header.Set(forwardHeader, n.cfg.ID)
	resp, err := n.forwarder.Do(out)
	if err != nil {
		// The leader may have applied the operation before the
		// connection failed: the outcome is unknown.
		writeJSON(w, http.StatusBadGateway, KVResult{Key: key, Error: "forward to leader " + string(lid) + ": " + err.Error(), NodeID: n.cfg.ID})
		return
	}
	defer resp.Body.Close()
	w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func (n *Node) handleWrite(w http.ResponseWriter, req *http.Request) {
	key := req.PathValue("key")
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, KVResult{Key: key, Error: err.Error(), NodeID: n.cfg.ID, Definite: true})
		return
	}
	if n.raft.State() != raft.Leader {
		n.forward(w, req, body)
		return
	}
	c := command{Op: "put", Key: key, Value: string(body)}
	if req.Method == http.MethodDelete {
		c = command{Op: "delete", Key: key}
	}
	data, _ := json.Marshal(c)
	f := n.raft.Apply(data, applyTimeout)
	if err := f.Error(); err != nil {
		// ErrNotLeader and ErrEnqueueTimeout mean the entry never entered
		// the log; anything else (leadership lost mid-commit) is unknown.
		definite := errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrEnqueueTimeout)
		writeJSON(w, http.StatusServiceUnavailable, KVResult{Key: key, Error: err.Error(), NodeID: n.cfg.ID, Definite: definite})
		return
	}
	if resErr, ok := f.Response().(error); ok && resErr != nil {
		writeJSON(w, http.StatusInternalServerError, KVResult{Key: key, Error: resErr.Error(), NodeID: n.cfg.ID})
		return
	}
	writeJSON(w, http.StatusOK, KVResult{Key: key, Value: c.Value, Found: c.Op == "put", Index: f.Index(), NodeID: n.cfg.ID})
}

// handleRead serves a linearizable read: the leader commits a barrier
// entry, which proves it is still the leader of a majority and that every
// earlier entry is applied, then reads its state machine.
func (n *Node) handleRead(w http.ResponseWriter, req *http.Request) {
	key := req.PathValue("key")
	if n.raft.State() != raft.Leader {
		n.forward(w, req, nil)
		return
	}
	if err := n.raft.Barrier(applyTimeout).Error(); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, KVResult{Key: key, Error: fmt.Sprintf("barrier: %v", err), NodeID: n.cfg.ID, Definite: true})
		return
	}
	v, ok := n.fsm.get(key)
	writeJSON(w, http.StatusOK, KVResult{Key: key, Value: v, Found: ok, NodeID: n.cfg.ID})
}
