package agent

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/internal/wait"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// serveAgent serves a's protocol on a loopback port, with the daemon's
// server options, and returns a client connection to it.
func serveAgent(t *testing.T, a *Agent) *grpc.ClientConn {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer(grpc.MaxRecvMsgSize(MaxMessageBytes))
	nsraftv1.RegisterAgentServer(srv, a.Service())
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// hostSession is a scripted host on the protocol.
type hostSession struct {
	t      *testing.T
	stream nsraftv1.Agent_ConnectClient
	cancel context.CancelFunc
}

func openSession(t *testing.T, cc *grpc.ClientConn, node string) (*hostSession, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	st, err := nsraftv1.NewAgentClient(cc).Connect(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	if err := st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Hello{Hello: &nsraftv1.Hello{Node: node, HostKind: "hashicorp", Live: true}}}); err != nil {
		cancel()
		return nil, err
	}
	m, err := st.Recv()
	if err != nil {
		cancel()
		return nil, err
	}
	if m.GetWelcome() == nil {
		cancel()
		t.Fatalf("expected Welcome, got %v", m)
	}
	return &hostSession{t: t, stream: st, cancel: cancel}, nil
}

// step sends one sample and returns the directive, acknowledging it (ok
// or refused).
func (h *hostSession) step(s collector.Sample, ok bool) (*nsraftv1.Directive, error) {
	if err := h.stream.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Sample{Sample: api.FromSample(s)}}); err != nil {
		return nil, err
	}
	m, err := h.stream.Recv()
	if err != nil {
		return nil, err
	}
	d := m.GetDirective()
	ack := &nsraftv1.Applied{Seq: d.Seq, Ok: ok}
	if !ok {
		ack.Error = "refused by the test"
	}
	return d, h.stream.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Applied{Applied: ack}})
}

func hostSample(at time.Time, inForce time.Duration) collector.Sample {
	s := collector.Sample{At: at, Node: "n1"}
	if inForce > 0 {
		s.Set(collector.FieldHostTimeouts)
		s.HeartbeatTimeout, s.ElectionTimeout = inForce, inForce
	}
	return s
}

// stepPolicy halves at most per decision, needs no calm, and may go down
// to 100ms.
func stepPolicy(t *testing.T) *policy.Policy {
	t.Helper()
	p, diags := policy.Parse([]byte(`
bounds {
  election_min = "100ms"
  election_max = "5s"
  step_down    = 0.5
  calm_for     = "0s"
}
`), "step.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return p
}

// TestSecondConnectDoesNotDisplaceTheHost: anyone who can reach the
// socket can open a stream, but while the host's session is open a second
// one is refused and the host keeps being served.
func TestSecondConnectDoesNotDisplaceTheHost(t *testing.T) {
	now := time.Unix(1000, 0)
	// A lease long enough that the host's session outlives the wait of
	// the second stream without sending anything.
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}, Policy: stepPolicy(t), LeaseTTL: time.Minute,
		Now: func() time.Time { return now }})
	cc := serveAgent(t, a)
	host, err := openSession(t, cc, "n1")
	if err != nil {
		t.Fatal(err)
	}
	defer host.cancel()
	if _, err := host.step(hostSample(now, time.Second), true); err != nil {
		t.Fatal(err)
	}
	_, err = openSession(t, cc, "n1")
	if status.Code(err) != codes.AlreadyExists {
		t.Fatalf("a second session while the host's is open: %v, want AlreadyExists", err)
	}
	if _, err := host.step(hostSample(now, time.Second), true); err != nil {
		t.Fatalf("the host lost its session to the second stream: %v", err)
	}
	// Once the host's session ends, a new one is welcome.
	host.cancel()
	again, err := openSession(t, cc, "n1")
	if err != nil {
		t.Fatalf("a new session after the host's ended: %v", err)
	}
	again.cancel()
}

// TestStepLimitsFollowTheHostsValue: the step reference is the value the
// host reports in force, on a new session and after a refusal; with no
// value at all the host is told to keep its own.
func TestStepLimitsFollowTheHostsValue(t *testing.T) {
	now := time.Unix(1000, 0)
	a := New(Config{Node: "n1", Recommender: model.Static{T: 100 * time.Millisecond}, Policy: stepPolicy(t), Now: func() time.Time { return now }})
	cc := serveAgent(t, a)

	// Session 1 walks the host from 1s down to 125ms.
	h1, err := openSession(t, cc, "n1")
	if err != nil {
		t.Fatal(err)
	}
	inForce := time.Second
	for i := 0; i < 3; i++ {
		d, err := h1.step(hostSample(now, inForce), true)
		if err != nil {
			t.Fatal(err)
		}
		inForce = time.Duration(d.ElectionTimeoutNs)
	}
	if inForce != 125*time.Millisecond {
		t.Fatalf("after three halvings: %v", inForce)
	}
	h1.cancel()

	// The host reconnects having restored its own 1s: one step from 1s.
	h2, err := openSession(t, cc, "n1")
	if err != nil {
		t.Fatal(err)
	}
	defer h2.cancel()
	d, err := h2.step(hostSample(now, time.Second), false) // and refuses it
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(d.ElectionTimeoutNs); got != 500*time.Millisecond {
		t.Fatalf("first directive of a new session to a host at 1s: %v, want 500ms", got)
	}
	// After the refusal the sample carries no host timeouts: nothing is
	// known to step from, so the host keeps its own.
	d, err = h2.step(hostSample(now, 0), true)
	if err != nil {
		t.Fatal(err)
	}
	if d.ElectionTimeoutNs != 0 || !d.Held {
		t.Fatalf("after a refusal with no host value: directive %v, want held with 0 (keep your own)", d)
	}
	// A bad first sample with no host value does not send election_min.
	bad := hostSample(now, 0)
	bad.Set(collector.FieldCPUIdle)
	bad.CPUIdlePct = -5
	d, err = h2.step(bad, true)
	if err != nil {
		t.Fatal(err)
	}
	if d.ElectionTimeoutNs != 0 || !d.Held {
		t.Fatalf("a bad sample with no reference: directive %v, want held with 0", d)
	}
	// A sample an hour ahead of the agent's clock is stale: held at 1s.
	d, err = h2.step(hostSample(now.Add(time.Hour), time.Second), true)
	if err != nil {
		t.Fatal(err)
	}
	if got := time.Duration(d.ElectionTimeoutNs); !d.Held || got != time.Second {
		t.Fatalf("a sample from the future: %v held %v, want 1s held", got, d.Held)
	}
}

// TestHostStringsAreBounded: a node name past MaxStringBytes ends the
// session with a clear error instead of growing the agent.
func TestHostStringsAreBounded(t *testing.T) {
	now := time.Unix(1000, 0)
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}, Policy: stepPolicy(t), Now: func() time.Time { return now }})
	cc := serveAgent(t, a)
	if _, err := openSession(t, cc, strings.Repeat("x", MaxStringBytes+1)); status.Code(err) != codes.InvalidArgument {
		t.Fatalf("a long Hello node: %v, want InvalidArgument", err)
	}
	h, err := openSession(t, cc, "n1")
	if err != nil {
		t.Fatal(err)
	}
	defer h.cancel()
	s := hostSample(now, time.Second)
	s.Node = strings.Repeat("y", 3<<20)
	if _, err := h.step(s, true); status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("a 3 MB node name: %v, want ResourceExhausted", err)
	}
}

// TestWatchStreamsAreCapped: past MaxWatchers, Watch is refused.
func TestWatchStreamsAreCapped(t *testing.T) {
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}})
	cc := serveAgent(t, a)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := nsraftv1.NewAgentClient(cc)
	var streams []nsraftv1.Agent_WatchClient
	for i := 0; i < MaxWatchers; i++ {
		w, err := c.Watch(ctx, &nsraftv1.WatchRequest{})
		if err != nil {
			t.Fatal(err)
		}
		streams = append(streams, w)
	}
	wait.For(t, 10*time.Second, "every watcher registered", func() bool { return a.hub.watchers() == MaxWatchers })
	w, err := c.Watch(ctx, &nsraftv1.WatchRequest{})
	if err == nil {
		_, err = w.Recv()
	}
	if status.Code(err) != codes.ResourceExhausted {
		t.Fatalf("watcher %d: %v, want ResourceExhausted", MaxWatchers+1, err)
	}
}

// TestLivePagesAreCapped: past MaxPages, /events is refused instead of
// each stalled page holding its own buffer.
func TestLivePagesAreCapped(t *testing.T) {
	srv := httptest.NewServer(NewDashboard("t", nil))
	defer srv.Close()
	var bodies []io.Closer
	defer func() {
		for _, b := range bodies {
			b.Close()
		}
	}()
	for i := 0; i < MaxPages; i++ {
		resp, err := http.Get(srv.URL + "/events")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d: %v %v", i, resp, err)
		}
		bodies = append(bodies, resp.Body)
	}
	resp, err := http.Get(srv.URL + "/events")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("page %d: status %d, want 503", MaxPages+1, resp.StatusCode)
	}
}

// TestReplayLongerThanTheBufferDoesNotBlock: a history longer than a
// watcher's buffer replays its newest events and publishing goes on.
func TestReplayLongerThanTheBufferDoesNotBlock(t *testing.T) {
	a := New(Config{Node: "n1", Recommender: model.Static{T: time.Second}, History: 4 * watcherBuffer})
	for i := 0; i < 4*watcherBuffer; i++ {
		a.Finish(a.Decide(hostSample(time.Now(), time.Second), false), false, nil)
	}
	done := make(chan struct{})
	go func() {
		w, cancel := a.hub.subscribe("", true)
		defer cancel()
		if len(w.ch) != watcherBuffer {
			t.Errorf("replayed %d events, want the newest %d", len(w.ch), watcherBuffer)
		}
		a.Finish(a.Decide(hostSample(time.Now(), time.Second), false), false, nil)
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("subscribe with a long replay blocked the hub")
	}
}

// TestStreamsPerConnectionAreBounded: one connection holds at most
// MaxStreamsPerConn streams of the agent at once (each Hello-less host
// stream holds a goroutine and buffers for helloTimeout); past them a new
// stream waits, and other connections are served meanwhile.
func TestStreamsPerConnectionAreBounded(t *testing.T) {
	dir := t.TempDir()
	src := "node = \"n1\"\nrecommender = \"static\"\nlisten {\n  grpc = \"127.0.0.1:0\"\n}\nlog {\n  stderr = false\n  file = \"d.jsonl\"\n}\n"
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o644)
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, err := Start(cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	cc, err := grpc.NewClient(d.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := nsraftv1.NewAgentClient(cc)
	// Streams that never say Hello: each is held for helloTimeout.
	for i := 0; i < MaxStreamsPerConn; i++ {
		if _, err := c.Connect(ctx); err != nil {
			t.Fatalf("stream %d: %v", i+1, err)
		}
	}
	wctx, wcancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer wcancel()
	if _, err := c.Connect(wctx); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("stream %d on the same connection: %v, want it held until its deadline", MaxStreamsPerConn+1, err)
	}
	other, err := grpc.NewClient(d.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	// The host, on a connection of its own, is welcomed.
	hctx, hcancel := context.WithTimeout(ctx, 10*time.Second)
	defer hcancel()
	st, err := nsraftv1.NewAgentClient(other).Connect(hctx)
	if err == nil {
		err = st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Hello{Hello: &nsraftv1.Hello{Node: "n1", HostKind: "hashicorp", Live: true}}})
	}
	var m *nsraftv1.AgentMessage
	if err == nil {
		m, err = st.Recv()
	}
	if err != nil || m.GetWelcome() == nil {
		t.Fatalf("the host on another connection: %v, %v", m, err)
	}
}
