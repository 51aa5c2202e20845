// Package link is the host side of the agent's gRPC protocol: a node
// (a Go service on hashicorp/raft, a go.etcd.io/raft embedder) says Hello
// to the agent beside it, sends a Sample every tick the agent asks for,
// puts each Directive into force through its adapter and acknowledges it.
// It never blocks the host's Raft: a missing, slow, hung or garbled agent
// only ends the session, and the link reconnects with backoff.
//
// link imports collector and api; adapters use it, the agent never does.
package link

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// Host is what a Link drives: a node's adapter.
type Host interface {
	// Sample takes one sample of the node.
	Sample() collector.Sample
	// Apply puts a decided base election timeout into force and renews
	// the adapter's lease.
	Apply(timeout time.Duration) error
	// SetLeaseTTL takes the lease the agent announces in its Welcome.
	SetLeaseTTL(d time.Duration)
}

// Transferrer is implemented by hosts that can hand leadership to another
// server when the agent says so (hashicorp/raft's
// LeadershipTransferToServer). The link says so in its Hello, sends the
// host's own evidence with every sample, and calls Transfer when a
// directive names a server. Transfer must not block: the hand-off runs
// on its own and its outcome shows in the next evidence.
type Transferrer interface {
	// HandoffEnabled says the host has hand-off turned on.
	HandoffEnabled() bool
	HandoffEvidence() Evidence
	Transfer(to string)
}

// Evidence is a host's own judgement of itself as leader, for the agent's
// hand-off rules.
type Evidence struct {
	// Degraded: the node leads and its own figures show it degrading;
	// Why gives them.
	Degraded bool
	Why      string
	// To is the server the host would hand to, "" when none qualifies;
	// Candidates says why it, and why the others were passed over.
	To, Candidates string
	// Moves counts hand-offs made; Err is why the last attempt failed.
	Moves int
	Err   string
}

// Config configures the connection from a node to its agent.
type Config struct {
	// Target is the agent's address: "unix:///path" (the default kind of
	// deployment) or "host:port".
	Target string
	// TLS, when set, secures a TCP connection.
	TLS *tls.Config
	// MaxTimeout is the largest timeout the node accepts from an agent
	// (default 60s); anything outside (0, MaxTimeout] is refused.
	MaxTimeout time.Duration
	// Backoff bounds the wait between reconnection attempts (default
	// 100ms doubling to 5s, with jitter from Seed).
	BackoffMin, BackoffMax time.Duration
	Seed                   uint64
	// Log receives connection events (default: none).
	Log hclog.Logger
}

// Link connects a Host to its agent over the nsraft.v1 protocol: it
// sends a Sample every tick the agent asks for, applies each Directive
// with the adapter and acknowledges it. It runs on its own goroutine and
// never blocks Raft: a missing, slow, hung or garbled agent only ends the
// session (the node keeps its values, and its own timing once the lease
// runs out) and the link reconnects with backoff.
type Link struct {
	h    Host
	node string
	kind string
	cfg  Config
	stop chan struct{}
	done chan struct{}
	once sync.Once

	mu    sync.Mutex
	stats Stats
	lat   [512]time.Duration // recent sample-to-applied latencies
	nlat  int
}

// Stats counts what a Link did.
type Stats struct {
	Connected  bool
	Sessions   int // sessions that got as far as the agent's Welcome
	Directives int // directives applied
	Refused    int // directives refused (out of range, or the host said no)
	LastError  string
	// LatencyP50 and LatencyP99 are over the recent directives: from
	// sending the sample to the directive being in force.
	LatencyP50, LatencyP99 time.Duration
}

// Connect starts linking host h, the node named node of kind hostKind
// (hashicorp, etcd-raft), to the agent at cfg.Target.
func Connect(h Host, node, hostKind string, cfg Config) *Link {
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = time.Minute
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = 100 * time.Millisecond
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 5 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = hclog.NewNullLogger()
	}
	l := &Link{h: h, node: node, kind: hostKind, cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	go l.run()
	return l
}

// Close ends the link. The adapter keeps its lease rules; closing the
// adapter restores the node's own configuration.
func (l *Link) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// Stats returns what the link did so far.
func (l *Link) Stats() Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	st := l.stats
	if n := min(l.nlat, len(l.lat)); n > 0 {
		xs := append([]time.Duration(nil), l.lat[:n]...)
		slices.Sort(xs)
		st.LatencyP50 = xs[(n-1)/2]
		st.LatencyP99 = xs[(n*99+99)/100-1]
	}
	return st
}

func (l *Link) run() {
	defer close(l.done)
	rng := rand.New(rand.NewPCG(l.cfg.Seed, 0x6e73))
	wait := l.cfg.BackoffMin
	for {
		welcomed, err := l.session()
		l.mu.Lock()
		l.stats.Connected = false
		if err != nil {
			l.stats.LastError = err.Error()
		}
		l.mu.Unlock()
		if welcomed {
			wait = l.cfg.BackoffMin
		}
		if err != nil {
			l.cfg.Log.Warn("agent link down; retrying", "target", l.cfg.Target, "in", wait.String(), "error", err.Error())
		}
		// Full jitter between wait/2 and wait.
		d := wait/2 + time.Duration(rng.Int64N(int64(wait/2)+1))
		select {
		case <-l.stop:
			return
		case <-time.After(d):
		}
		wait = min(2*wait, l.cfg.BackoffMax)
	}
}

// session runs one connection; welcomed says whether the agent got as far
// as its Welcome.
func (l *Link) session() (welcomed bool, err error) {
	creds := insecure.NewCredentials()
	if l.cfg.TLS != nil {
		creds = credentials.NewTLS(l.cfg.TLS)
	}
	conn, err := grpc.NewClient(l.cfg.Target, grpc.WithTransportCredentials(creds))
	if err != nil {
		return false, fmt.Errorf("agent %s: %w", l.cfg.Target, err)
	}
	defer conn.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-l.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	// A hung agent can accept a connection and then say nothing: the
	// Welcome must come within this, or the session is given up.
	hello := time.AfterFunc(2*time.Second, cancel)
	tr, canTransfer := l.h.(Transferrer)
	canTransfer = canTransfer && tr.HandoffEnabled()
	stream, err := nsraftv1.NewAgentClient(conn).Connect(ctx)
	if err != nil {
		return false, fmt.Errorf("agent %s: %w", l.cfg.Target, err)
	}
	err = stream.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Hello{Hello: &nsraftv1.Hello{
		Node: l.node, HostKind: l.kind, Live: true, Version: api.ProtocolVersion, Handoff: canTransfer}}})
	if err != nil {
		return false, fmt.Errorf("agent %s: hello: %w", l.cfg.Target, err)
	}
	in := make(chan *nsraftv1.AgentMessage, 1)
	errc := make(chan error, 1)
	go func() {
		for {
			m, err := stream.Recv()
			if err != nil {
				errc <- err
				return
			}
			select {
			case in <- m:
			case <-ctx.Done():
				return
			}
		}
	}()
	var w *nsraftv1.Welcome
	select {
	case m := <-in:
		if w = m.GetWelcome(); w == nil {
			return false, fmt.Errorf("agent %s: first message is not a Welcome", l.cfg.Target)
		}
	case err := <-errc:
		return false, fmt.Errorf("agent %s: %w", l.cfg.Target, err)
	}
	hello.Stop()
	tick := time.Duration(w.TickNs)
	if tick < time.Millisecond || tick > time.Minute {
		return true, fmt.Errorf("agent %s: tick %s is outside 1ms..1m", l.cfg.Target, tick)
	}
	l.h.SetLeaseTTL(time.Duration(w.LeaseTtlNs))
	l.mu.Lock()
	l.stats.Connected = true
	l.stats.Sessions++
	l.mu.Unlock()
	l.cfg.Log.Info("agent link up", "target", l.cfg.Target, "agent", w.AgentNode, "tick", tick.String())

	// An answer must come within this; a slower agent is treated as
	// hung and the session is restarted.
	answer := max(2*tick, 250*time.Millisecond)
	t := time.NewTicker(tick)
	defer t.Stop()
	var seq uint64
	for {
		select {
		case <-l.stop:
			return true, nil
		case err := <-errc:
			return true, fmt.Errorf("agent %s: %w", l.cfg.Target, err)
		case <-t.C:
		}
		s := l.h.Sample()
		ps := api.FromSample(s)
		if canTransfer {
			e := tr.HandoffEvidence()
			ps.Handoff = &nsraftv1.HandoffEvidence{Degraded: e.Degraded, Why: e.Why, To: e.To, Candidates: e.Candidates,
				Moves: int64(e.Moves), Error: e.Err}
		}
		sent := time.Now() // the sample goes in: the agent's part starts
		if err := stream.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Sample{Sample: ps}}); err != nil {
			return true, fmt.Errorf("agent %s: sending a sample: %w", l.cfg.Target, err)
		}
		var d *nsraftv1.Directive
		timer := time.NewTimer(answer)
		select {
		case <-l.stop:
			timer.Stop()
			return true, nil
		case err := <-errc:
			timer.Stop()
			return true, fmt.Errorf("agent %s: %w", l.cfg.Target, err)
		case <-timer.C:
			return true, fmt.Errorf("agent %s: no directive within %s", l.cfg.Target, answer)
		case m := <-in:
			timer.Stop()
			if d = m.GetDirective(); d == nil {
				return true, fmt.Errorf("agent %s: expected a Directive", l.cfg.Target)
			}
		}
		if d.Seq != seq+1 {
			return true, fmt.Errorf("agent %s: directive %d out of sequence (want %d)", l.cfg.Target, d.Seq, seq+1)
		}
		seq = d.Seq
		ack := &nsraftv1.Applied{Seq: d.Seq, Ok: true}
		if d.Held && d.ElectionTimeoutNs == 0 {
			// The agent knows no value in force to limit a change from:
			// the node keeps its own, and the lease runs on.
		} else if err := l.apply(time.Duration(d.ElectionTimeoutNs)); err != nil {
			ack.Ok, ack.Error = false, err.Error()
		}
		if d.HandoffTo != "" && canTransfer {
			if len(d.HandoffTo) > 256 {
				return true, fmt.Errorf("agent %s: a hand-off target of %d bytes", l.cfg.Target, len(d.HandoffTo))
			}
			l.cfg.Log.Info("agent asks for a leader hand-off", "to", d.HandoffTo)
			tr.Transfer(d.HandoffTo)
		}
		lat := time.Since(sent)
		ack.LatencyNs = int64(lat)
		l.mu.Lock()
		l.lat[l.nlat%len(l.lat)] = lat
		l.nlat++
		l.mu.Unlock()
		if err := stream.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Applied{Applied: ack}}); err != nil {
			return true, fmt.Errorf("agent %s: acknowledging: %w", l.cfg.Target, err)
		}
	}
}

// ErrOutOfRange is returned for a directive the node will not take.
var ErrOutOfRange = errors.New("directive out of range")

func (l *Link) apply(t time.Duration) error {
	var err error
	if t <= 0 || t > l.cfg.MaxTimeout {
		err = fmt.Errorf("%w: election timeout %s is outside (0, %s]", ErrOutOfRange, t, l.cfg.MaxTimeout)
	} else {
		err = l.h.Apply(t)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		l.stats.Refused++
	} else {
		l.stats.Directives++
	}
	return err
}
