package agent

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

// helloTimeout is how long a new host stream may take to say Hello.
const helloTimeout = 5 * time.Second

// claimWait is how long a new host stream waits for the open session to
// end before it is refused: a host that restarts its stream closes the old
// one first, which the agent sees within this.
const claimWait = 2 * time.Second

// MaxWatchers bounds concurrent Watch streams: each holds a buffer and a
// goroutine, so followers cannot grow the agent without limit.
const MaxWatchers = 32

// MaxStreamsPerConn bounds the concurrent streams of one gRPC connection.
const MaxStreamsPerConn = MaxWatchers + 8

// MaxStringBytes bounds every string a host sends (node and leader names,
// versions): names longer than this are an error, not memory.
const MaxStringBytes = 256

// MaxMessageBytes bounds one gRPC message the agent receives; a Sample is
// a few hundred bytes.
const MaxMessageBytes = 64 << 10

// Service is the agent's gRPC service.
type Service struct {
	nsraftv1.UnimplementedAgentServer
	a *Agent

	mu       sync.Mutex
	current  chan struct{} // closed when the current host session ends
	watchers int
}

// Service returns the gRPC service of the agent.
func (a *Agent) Service() *Service { return &Service{a: a} }

// ErrSessionTaken is returned to a host stream opened while another
// session is live: one session per host, and a second one never displaces
// the first (it could be anyone who can reach the socket).
var ErrSessionTaken = status.Error(codes.AlreadyExists, "a host session is already open on this agent")

// checkStrings refuses a message whose strings exceed MaxStringBytes.
func checkStrings(fields ...string) error {
	for _, f := range fields {
		if len(f) > MaxStringBytes {
			return status.Errorf(codes.InvalidArgument, "a string field of %d bytes; at most %d are allowed", len(f), MaxStringBytes)
		}
	}
	return nil
}

// Connect serves one host session: Hello, then a Directive per Sample. A
// session that sends nothing for a lease TTL is ended: its lease has run
// out on the host anyway, and it must not hold the session for ever.
func (s *Service) Connect(stream nsraftv1.Agent_ConnectServer) error {
	in := make(chan *nsraftv1.HostMessage)
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
			case <-stream.Context().Done():
				return
			}
		}
	}()

	var hello *nsraftv1.Hello
	select {
	case m := <-in:
		if hello = m.GetHello(); hello == nil {
			return status.Error(codes.InvalidArgument, "the first message of a host stream must be Hello")
		}
		if err := checkStrings(hello.Node, hello.HostKind, hello.Version); err != nil {
			return err
		}
	case err := <-errc:
		return err
	case <-time.After(helloTimeout):
		return status.Error(codes.DeadlineExceeded, "no Hello within "+helloTimeout.String())
	}
	mine, ok := s.claim(stream.Context())
	m := s.a.metrics
	if !ok {
		m.sessionsRefused.Inc()
		s.a.cfg.Ops.Warn("host session refused: one is already open", "node", hello.Node)
		return ErrSessionTaken
	}
	m.connects.Inc()
	m.hostConnected.Set(1)
	defer s.release(mine)
	// A new session: what the host has in force is what it says, not
	// what this agent last decided.
	s.a.Resync()
	s.a.cfg.Ops.Info("host connected", "node", hello.Node, "host", hello.HostKind, "live", hello.Live, "version", hello.Version)

	err := stream.Send(&nsraftv1.AgentMessage{Msg: &nsraftv1.AgentMessage_Welcome{Welcome: &nsraftv1.Welcome{
		AgentNode: s.a.cfg.Node, TickNs: int64(s.a.cfg.Tick), LeaseTtlNs: int64(s.a.cfg.LeaseTTL), Version: api.ProtocolVersion}}})
	if err != nil {
		return err
	}
	var (
		seq     uint64
		pending *Record
	)
	settle := func(why string) {
		if pending != nil {
			s.a.Finish(pending, false, errors.New(why))
			pending = nil
		}
	}
	defer func() { settle("the host disconnected before acknowledging") }()
	idle := time.NewTimer(s.a.cfg.LeaseTTL)
	defer idle.Stop()
	for {
		select {
		case <-idle.C:
			return status.Error(codes.DeadlineExceeded, "no message from the host within the lease TTL "+s.a.cfg.LeaseTTL.String())
		case <-stream.Context().Done():
			// The reader may have stopped on this without a word.
			return stream.Context().Err()
		case err := <-errc:
			return err
		case msg := <-in:
			idle.Reset(s.a.cfg.LeaseTTL)
			switch x := msg.Msg.(type) {
			case *nsraftv1.HostMessage_Sample:
				settle("not acknowledged before the next sample")
				if err := checkStrings(x.Sample.GetNode(), x.Sample.GetLeader()); err != nil {
					return err
				}
				smp := api.ToSample(x.Sample)
				if smp.Node == "" {
					smp.Node = hello.Node
				}
				r := s.a.Decide(smp, hello.Live)
				seq++
				d := &nsraftv1.Directive{Seq: seq, ElectionTimeoutNs: int64(r.Decision.Timeout),
					HeartbeatIntervalNs: int64(r.Decision.Heartbeat), Held: r.Decision.Held}
				if e := x.Sample.GetHandoff(); hello.Handoff && s.a.cfg.Handoff.Enabled && e != nil {
					if err := checkStrings(e.To); err != nil {
						return err
					}
					d.HandoffTo = s.a.Handoff(r, HandoffEvidence{Degraded: e.Degraded, Why: clip(e.Why), To: e.To,
						Candidates: clip(e.Candidates), Moves: int(e.Moves), Err: clip(e.Error)})
				}
				if r.Decision.NoReference && hello.Live {
					// No value in force is known, so no step limit could
					// apply: the host keeps its own (0, held).
					d.ElectionTimeoutNs, d.HeartbeatIntervalNs, d.Held = 0, 0, true
				}
				if err := stream.Send(&nsraftv1.AgentMessage{Msg: &nsraftv1.AgentMessage_Directive{Directive: d}}); err != nil {
					s.a.Finish(r, false, fmt.Errorf("sending the directive: %w", err))
					return err
				}
				if !hello.Live {
					s.a.Finish(r, false, nil) // advice: nothing to acknowledge
				} else {
					pending = r
				}
			case *nsraftv1.HostMessage_Applied:
				if pending == nil || x.Applied.Seq != seq {
					continue // late or unknown acknowledgement
				}
				var err error
				if !x.Applied.Ok {
					msg := x.Applied.Error
					if len(msg) > MaxStringBytes {
						msg = msg[:MaxStringBytes] + "…"
					}
					err = errors.New("host refused: " + msg)
				}
				if l := x.Applied.LatencyNs; l > 0 {
					m.latency.Observe(time.Duration(l).Seconds())
				}
				s.a.Finish(pending, x.Applied.Ok && !pending.Decision.NoReference, err)
				pending = nil
			case *nsraftv1.HostMessage_Hello:
				return status.Error(codes.InvalidArgument, "Hello sent twice")
			default:
				return status.Error(codes.InvalidArgument, "empty host message")
			}
		}
	}
}

// MaxNoteBytes bounds the evidence texts a host sends with a sample.
const MaxNoteBytes = 2048

func clip(s string) string {
	if len(s) > MaxNoteBytes {
		return s[:MaxNoteBytes] + "…"
	}
	return s
}

// claim makes the calling stream the host session if none is open, or
// if the open one ends within claimWait; otherwise it reports false and
// the open session goes on.
func (s *Service) claim(ctx context.Context) (chan struct{}, bool) {
	deadline := time.NewTimer(claimWait)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		cur := s.current
		if cur == nil {
			s.current = make(chan struct{})
			mine := s.current
			s.mu.Unlock()
			return mine, true
		}
		s.mu.Unlock()
		select {
		case <-cur:
		case <-deadline.C:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}

func (s *Service) release(mine chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == mine {
		close(mine)
		s.current = nil
		s.a.metrics.hostConnected.Set(0)
	}
}

// Connected reports whether a host stream is open.
func (s *Service) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current != nil
}

// Watch streams decisions to one follower.
// At most MaxWatchers streams are served at once.
func (s *Service) Watch(req *nsraftv1.WatchRequest, stream nsraftv1.Agent_WatchServer) error {
	if err := checkStrings(req.GetNode()); err != nil {
		return err
	}
	s.mu.Lock()
	if s.watchers >= MaxWatchers {
		s.mu.Unlock()
		return status.Errorf(codes.ResourceExhausted, "%d Watch streams are open; at most %d are served", MaxWatchers, MaxWatchers)
	}
	s.watchers++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.watchers--
		s.mu.Unlock()
	}()
	w, cancel := s.a.hub.subscribe(req.GetNode(), req.GetReplay())
	defer cancel()
	for {
		select {
		case <-stream.Context().Done():
			return nil
		case ev := <-w.ch:
			if err := stream.Send(ev); err != nil {
				return err
			}
		}
	}
}
