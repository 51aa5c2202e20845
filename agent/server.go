package agent

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

// Version is the protocol implementation's version string, sent in
// Welcome.
var Version = "nsraft.v1"

// helloTimeout is how long a new host stream may take to say Hello.
const helloTimeout = 5 * time.Second

// Service is the agent's gRPC service.
type Service struct {
	nsraftv1.UnimplementedAgentServer
	a *Agent

	mu      sync.Mutex
	current chan struct{} // closed when the current host stream is replaced
}

// Service returns the gRPC service of the agent.
func (a *Agent) Service() *Service { return &Service{a: a} }

var errReplaced = status.Error(codes.Aborted, "replaced by a newer connection from the host")

// Connect serves one host stream: Hello, then a Directive per Sample.
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
	case err := <-errc:
		return err
	case <-time.After(helloTimeout):
		return status.Error(codes.DeadlineExceeded, "no Hello within "+helloTimeout.String())
	}
	replaced := s.claim()
	m := s.a.metrics
	m.connects.Inc()
	m.hostConnected.Set(1)
	defer s.release(replaced)
	s.a.cfg.Log.Info("host connected", "node", hello.Node, "host", hello.HostKind, "live", hello.Live, "version", hello.Version)

	err := stream.Send(&nsraftv1.AgentMessage{Msg: &nsraftv1.AgentMessage_Welcome{Welcome: &nsraftv1.Welcome{
		AgentNode: s.a.cfg.Node, TickNs: int64(s.a.cfg.Tick), LeaseTtlNs: int64(s.a.cfg.LeaseTTL), Version: Version}}})
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
	for {
		select {
		case <-replaced:
			return errReplaced
		case err := <-errc:
			return err
		case msg := <-in:
			switch x := msg.Msg.(type) {
			case *nsraftv1.HostMessage_Sample:
				settle("not acknowledged before the next sample")
				smp := api.ToSample(x.Sample)
				if smp.Node == "" {
					smp.Node = hello.Node
				}
				r := s.a.Decide(smp, hello.Live)
				seq++
				d := &nsraftv1.Directive{Seq: seq, ElectionTimeoutNs: int64(r.Decision.Timeout),
					HeartbeatIntervalNs: int64(r.Decision.Heartbeat), Held: r.Decision.Held}
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
					err = errors.New("host refused: " + x.Applied.Error)
				}
				if l := x.Applied.LatencyNs; l > 0 {
					m.latency.Observe(time.Duration(l).Seconds())
				}
				s.a.Finish(pending, x.Applied.Ok, err)
				pending = nil
			case *nsraftv1.HostMessage_Hello:
				return status.Error(codes.InvalidArgument, "Hello sent twice")
			default:
				return status.Error(codes.InvalidArgument, "empty host message")
			}
		}
	}
}

// claim makes the calling stream the current host stream, replacing any
// older one, and returns the channel closed when it is itself replaced.
func (s *Service) claim() chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current != nil {
		close(s.current)
	}
	s.current = make(chan struct{})
	return s.current
}

func (s *Service) release(mine chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.current == mine {
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
func (s *Service) Watch(req *nsraftv1.WatchRequest, stream nsraftv1.Agent_WatchServer) error {
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
