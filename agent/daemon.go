package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/adapter/hashicorp"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/policy"
)

// Daemon is a running `ns-agent run`: the agent, its gRPC listener, its
// HTTP listener (/metrics, /livez, /readyz, /healthz) and its log sink.
type Daemon struct {
	cfg   *FileConfig
	Agent *Agent
	svc   *Service
	log   hclog.Logger

	grpcSrv  *grpc.Server
	grpcLis  net.Listener
	httpSrv  *http.Server
	httpLis  net.Listener
	logFile  *RecordLog
	sockPath string
	dash     *Dashboard
	stopDash context.CancelFunc
	polled   polledHost
	stopHost context.CancelFunc
	wg       sync.WaitGroup
	reloadMu sync.Mutex
}

// Start loads the policy and weights the configuration names, opens the
// listeners and starts serving. stderr receives the log when the
// configuration asks for it (and start-up problems always).
func Start(cfg *FileConfig, stderr io.Writer) (*Daemon, error) {
	if !cfg.HostKind.Valid() {
		return nil, fmt.Errorf("%s: unknown host kind %q", cfg.Path, cfg.HostKind)
	}
	pol, err := loadPolicy(cfg.PolicyFile)
	if err != nil {
		return nil, err
	}
	rec, err := loadRecommender(cfg)
	if err != nil {
		return nil, err
	}
	d := &Daemon{cfg: cfg}
	// Operational messages go to stderr; decision records to their own
	// stream: the log file, or stderr when there is none (or when asked).
	d.log = hclog.New(&hclog.LoggerOptions{Name: "ns-agent", Output: stderr, JSONFormat: true, Level: hclog.LevelFromString(cfg.LogLevel)})
	m := newMetrics(cfg.Node, ReadBuildInfo(""))
	var sinks fanout
	if cfg.LogFile != "" {
		var repaired int64
		d.logFile, repaired, err = OpenRecordLog(cfg.LogFile, int64(cfg.LogMaxMB)<<20, cfg.LogBackups, d.logHooks(m))
		if err != nil {
			return nil, fmt.Errorf("log.file: %w", err)
		}
		if repaired > 0 {
			d.log.Warn("cut a torn last record off the log", "file", cfg.LogFile, "bytes", repaired)
		}
		sinks = append(sinks, d.logFile)
	}
	if cfg.LogStderr || len(sinks) == 0 {
		sinks = append(sinks, stderr)
	}
	decisions := hclog.New(&hclog.LoggerOptions{Name: "ns-agent", Output: sinks, JSONFormat: true, Level: hclog.Info})
	d.Agent = New(Config{Node: cfg.Node, HostKind: cfg.HostKind, Tick: cfg.Tick, LeaseTTL: cfg.LeaseTTL,
		Recommender: rec, Policy: pol, Log: decisions, Ops: d.log, LogChanges: cfg.LogChanges, metrics: m,
		Handoff: HandoffRules{Enabled: cfg.HostHandoff && (cfg.HostKind == "hashicorp" || cfg.HostKind == "consul"),
			Cooldown: cfg.HostHandoffCooldown}})
	d.svc = d.Agent.Service()
	// The read-only live view of this agent's decisions, on the HTTP
	// listener (loopback unless configured otherwise).
	d.dash = NewDashboard("ns-agent "+cfg.Node, nil)
	d.dash.SetReplay(agentReplay)
	if cfg.PolicyFile != "" {
		d.dash.ShowPolicy(cfg.PolicyFile)
	}
	var ctx context.Context
	ctx, d.stopDash = context.WithCancel(context.Background())
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.dash.FollowHub(ctx, d.Agent)
	}()

	if cfg.HostKind == policy.HostConsul || cfg.HostKind == policy.HostEtcd {
		// Consul and etcd servers do not link to us: the agent polls them.
		h, err := pollHost(cfg, pol)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.polled = h
		var runCtx context.Context
		runCtx, d.stopHost = context.WithCancel(context.Background())
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.Agent.Run(runCtx, h)
		}()
	}
	if d.grpcLis, d.sockPath, err = listen(cfg.GRPC, cfg.Socket); err != nil {
		d.Close()
		return nil, err
	}
	if w := listenWarning(cfg.TLS, d.sockPath != "", d.grpcLis.Addr()); w != "" {
		d.log.Warn(w)
	}
	var opts []grpc.ServerOption
	if cfg.TLS != nil {
		tc, err := serverTLS(cfg.TLS)
		if err != nil {
			d.Close()
			return nil, err
		}
		opts = append(opts, grpc.Creds(credentials.NewTLS(tc)))
	}
	// Bounded messages, and dead peers noticed, so a vanished host frees
	// its session (one per host) within seconds.
	opts = append(opts, grpc.MaxRecvMsgSize(MaxMessageBytes),
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}),
		// Fixed flow-control windows of one message: gRPC's default
		// estimator may grow them to 16 MB for a peer that sends fast, so
		// a client streaming oversized messages could make the agent
		// buffer megabytes it would refuse anyway.
		grpc.InitialWindowSize(MaxMessageBytes), grpc.InitialConnWindowSize(MaxMessageBytes),
		// A connection's streams each hold a goroutine and buffers until
		// Hello or the lease; the host needs one, tail and the dashboard a
		// few Watches (MaxWatchers in all).
		grpc.MaxConcurrentStreams(MaxStreamsPerConn))
	d.grpcSrv = grpc.NewServer(opts...)
	nsraftv1.RegisterAgentServer(d.grpcSrv, d.svc)
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.grpcSrv.Serve(d.grpcLis)
	}()
	if cfg.HTTP != "" {
		if d.httpLis, err = net.Listen("tcp", cfg.HTTP); err != nil {
			d.Close()
			return nil, fmt.Errorf("listen.http: %w", err)
		}
		d.httpSrv = &http.Server{Handler: d.handler(), ReadHeaderTimeout: 5 * time.Second}
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.httpSrv.Serve(d.httpLis)
		}()
	}
	d.log.Info("started", "node", cfg.Node, "host", cfg.HostKind, "grpc", d.GRPCAddr(), "http", d.HTTPAddr(),
		"recommender", rec.Name(), "policy", pol.Name, "tick", cfg.Tick.String(), "lease_ttl", cfg.LeaseTTL.String())
	return d, nil
}

// logHooks report log failures as a metric and on stderr (once per
// failing spell, so a full disk does not flood it), and what rotation
// deletes.
func (d *Daemon) logHooks(m *Metrics) LogHooks {
	var mu sync.Mutex
	failures := 0
	return LogHooks{
		Failed: func(err error) {
			m.logErrors.Inc()
			m.logHealthy.Set(0)
			mu.Lock()
			failures++
			n := failures
			mu.Unlock()
			if n == 1 {
				d.log.Error("the decision log cannot be written: records are being lost until it recovers", "file", d.cfg.LogFile, "error", err.Error())
			}
		},
		Recovered: func() {
			m.logHealthy.Set(1)
			mu.Lock()
			n := failures
			failures = 0
			mu.Unlock()
			d.log.Warn("the decision log is written again", "file", d.cfg.LogFile, "records_lost", n)
		},
		Rotated: func(deleted string, bytes int64) {
			m.logDropped.Add(float64(bytes))
			d.log.Warn("log rotation deleted the oldest backup (raise log.max_backups or max_size_mb to keep more)",
				"file", deleted, "bytes", bytes)
		},
	}
}

// GRPCAddr is the gRPC listener's address in the form clients dial
// ("unix:///path" or "host:port").
func (d *Daemon) GRPCAddr() string {
	if d.sockPath != "" {
		return "unix://" + d.sockPath
	}
	if d.grpcLis == nil {
		return ""
	}
	return d.grpcLis.Addr().String()
}

// HTTPAddr is the HTTP listener's host:port ("" without one).
func (d *Daemon) HTTPAddr() string {
	if d.httpLis == nil {
		return ""
	}
	return d.httpLis.Addr().String()
}

func (d *Daemon) handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(d.Agent.Metrics().Registry(), promhttp.HandlerOpts{}))
	mux.Handle("/", LoopbackOnly(d.dash))
	live := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }
	mux.HandleFunc("/livez", live)
	mux.HandleFunc("/healthz", live)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if d.logFile != nil && !d.logFile.Healthy() {
			// Decisions are being made but not recorded: not ready.
			http.Error(w, "not ready: the log cannot be written (see ns_agent_log_write_errors_total)", http.StatusServiceUnavailable)
			return
		}
		// Ready once serving: a host connects to us, so waiting for one
		// would keep a fresh pod unready forever.
		host := "no host connected"
		if d.svc.Connected() {
			host = "host connected"
		}
		fmt.Fprintf(w, "ok: serving %s, %s\n", d.GRPCAddr(), host)
	})
	return mux
}

// Reload re-reads the configuration file, and the policy and weights
// files it names (SIGHUP): a changed recommender, policy or weights takes
// effect; listeners, tick and lease need a restart. When anything is
// invalid the old configuration stays in force and the error says why.
func (d *Daemon) Reload() error {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	err := d.reload()
	if err != nil {
		d.Agent.Metrics().Reloaded(false)
		d.log.Error("reload failed: keeping the policy and weights in force", "error", err.Error())
		return err
	}
	d.Agent.Metrics().Reloaded(true)
	return nil
}

func (d *Daemon) reload() error {
	cfg := d.cfg
	if cfg.Path != "" {
		c, diags := LoadConfig(cfg.Path)
		if diags.HasErrors() {
			return errors.New(strings.TrimSpace(configs.FormatDiagnostics(diags)))
		}
		if c.GRPC != cfg.GRPC || c.HTTP != cfg.HTTP || c.Tick != cfg.Tick || c.LeaseTTL != cfg.LeaseTTL || c.Node != cfg.Node {
			d.log.Warn("listeners, node, tick and lease_ttl change only on restart; keeping the running ones")
		}
		c.GRPC, c.HTTP, c.Tick, c.LeaseTTL, c.Node, c.TLS = cfg.GRPC, cfg.HTTP, cfg.Tick, cfg.LeaseTTL, cfg.Node, cfg.TLS
		cfg = c
	}
	pol, err := loadPolicy(cfg.PolicyFile)
	if err != nil {
		return err
	}
	rec, err := loadRecommender(cfg)
	if err != nil {
		return err
	}
	d.Agent.SetPolicy(pol)
	if cfg.WeightsFile != "" || cfg.Recommender != d.cfg.Recommender || cfg.WeightsFile != d.cfg.WeightsFile {
		d.Agent.SetRecommender(rec)
	}
	d.cfg = cfg
	d.log.Info("reloaded", "recommender", cfg.Recommender, "policy", pol.Name, "weights", cfg.WeightsFile)
	return nil
}

// Close stops serving: open streams end, the socket file is removed and
// the log is flushed.
func (d *Daemon) Close() {
	if d.grpcSrv != nil {
		stopped := make(chan struct{})
		go func() { d.grpcSrv.GracefulStop(); close(stopped) }()
		select {
		case <-stopped:
		case <-time.After(2 * time.Second):
			d.grpcSrv.Stop()
		}
	} else if d.grpcLis != nil {
		d.grpcLis.Close()
	}
	if d.stopDash != nil {
		d.stopDash()
	}
	if d.stopHost != nil {
		d.stopHost()
	}
	if d.httpSrv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		d.httpSrv.Shutdown(ctx)
		cancel()
	}
	d.wg.Wait()
	if d.polled != nil {
		if err := d.polled.Close(); err != nil && d.log != nil {
			d.log.Error("closing the host", "host", d.cfg.HostKind, "error", err.Error())
		}
	}
	if d.sockPath != "" {
		removeSocket(d.sockPath)
	}
	if d.log != nil {
		d.log.Info("stopped", "node", d.cfg.Node)
	}
	if d.logFile != nil {
		d.logFile.Close()
	}
}

// polledHost is a host the agent samples itself (Consul, etcd servers).
type polledHost interface {
	Host
	Close() error
}

func pollHost(cfg *FileConfig, pol *policy.Policy) (polledHost, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch cfg.HostKind {
	case policy.HostConsul:
		return hashicorp.NewConsul(ctx, hashicorp.ConsulConfig{Address: cfg.HostAddress, Live: cfg.HostLive,
			Fragment: cfg.HostFragment, Token: os.Getenv("CONSUL_HTTP_TOKEN"), Handoff: hashicorp.ConsulHandoff{Enabled: cfg.HostHandoff}})
	default:
		var tc *tls.Config
		if cfg.HostTLS != nil {
			var err error
			if tc, err = clientTLS(cfg.HostTLS); err != nil {
				return nil, fmt.Errorf("host tls: %w", err)
			}
		}
		return etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: cfg.HostAddress, TLS: tc, HeartbeatInterval: cfg.HostHeartbeat,
			ElectionTimeout: cfg.HostElection, Handoff: etcd.HandoffConfig{Enabled: cfg.HostHandoff, Cooldown: cfg.HostHandoffCooldown}, Advice: AdviceConfig(cfg, pol)})
	}
}

// Advise reads every member of the etcd cluster cfg names once and gives
// the restart-time advice an agent beside it would give (`ns-agent
// advise`): the same evidence, bounds and margin.
func Advise(ctx context.Context, cfg *FileConfig, now time.Time) (etcd.Recommendation, etcd.Reading, error) {
	if cfg.HostKind != policy.HostEtcd {
		return etcd.Recommendation{}, etcd.Reading{}, fmt.Errorf("advise needs an etcd host, not %s", cfg.HostKind)
	}
	if cfg.HostAddress == "" {
		return etcd.Recommendation{}, etcd.Reading{}, errors.New("advise: no etcd endpoint (host.address)")
	}
	pol, err := loadPolicy(cfg.PolicyFile)
	if err != nil {
		return etcd.Recommendation{}, etcd.Reading{}, err
	}
	var tc *tls.Config
	if cfg.HostTLS != nil {
		if tc, err = clientTLS(cfg.HostTLS); err != nil {
			return etcd.Recommendation{}, etcd.Reading{}, fmt.Errorf("host tls: %w", err)
		}
	}
	flags := etcd.Flags{Heartbeat: cfg.HostHeartbeat, Election: cfg.HostElection}
	if flags.Heartbeat <= 0 {
		flags.Heartbeat = 100 * time.Millisecond
	}
	if flags.Election <= 0 {
		flags.Election = time.Second
	}
	return etcd.AdviseOnce(ctx, cfg.HostAddress, tc, now, flags, AdviceConfig(cfg, pol))
}

// AdviceConfig is the etcd advice's configuration: the policy's bounds
// and the pacing the agent configuration sets.
func AdviceConfig(cfg *FileConfig, pol *policy.Policy) etcd.AdviceConfig {
	b := pol.Bounds
	return etcd.AdviceConfig{ElectionMin: b.ElectionMin, ElectionMax: b.ElectionMax, HeartbeatMin: b.HeartbeatMin,
		HeartbeatMax: b.HeartbeatMax, RTTFactor: b.RTTFactor, Horizon: cfg.AdviceHorizon, MinEvidence: cfg.AdviceMinEvidence,
		Period: cfg.AdvicePeriod, Margin: cfg.AdviceMargin, Every: cfg.AdviceEvery}
}

// clientTLS builds a client's TLS configuration: the CA that signs the
// server, and the client's own certificate when given.
func clientTLS(f *TLSFiles) (*tls.Config, error) {
	return ClientTLS(f.ClientCA, f.Cert, f.Key, "")
}

func loadPolicy(path string) (*policy.Policy, error) {
	if path == "" {
		return policy.Default(), nil
	}
	p, diags := policy.ParseFile(path)
	if diags.HasErrors() {
		return nil, errors.New(strings.TrimSpace(configs.FormatDiagnostics(diags)))
	}
	return p, nil
}

func loadRecommender(cfg *FileConfig) (model.Recommender, error) {
	o := model.Options{Seed: model.NodeSeed(0, cfg.Node)}
	if cfg.WeightsFile != "" {
		data, err := configs.ReadFile(cfg.WeightsFile, 16<<20)
		if err != nil {
			return nil, fmt.Errorf("weights: %w", err)
		}
		n, err := model.LoadWeights(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("weights %s: %w", cfg.WeightsFile, err)
		}
		o.LSTM = model.NewInference(n)
	}
	return model.New(cfg.Recommender, o)
}

// SocketMode is the default mode of the agent's unix socket: the agent's
// user and group may connect (the host usually runs as another user of
// the agent's group), nobody else.
const SocketMode os.FileMode = 0o660

// DefaultSocketDir is where a configuration without listen.grpc puts its
// socket: a directory of the agent's own in the temp directory, never the
// shared temp directory itself, where anyone could squat the name first.
func DefaultSocketDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("ns-agent-%d", os.Getuid()))
}

// ErrNotSocket is returned when listen.grpc names an existing file that
// is not a socket: it is never removed.
var ErrNotSocket = errors.New("exists and is not a socket; refusing to replace it")

// ErrUnsafeSocketDir is returned when the socket's directory belongs to
// another user or others may write to it: someone else could replace the
// socket.
var ErrUnsafeSocketDir = errors.New("socket directory is not the agent's own")

// listen opens "unix:///path", "unix:path" or a TCP "host:port". A unix
// socket goes in a directory the agent owns (created 0750 when missing)
// and gets mode sock.Mode and group sock.Group whatever the umask. A stale
// socket left by a dead agent is removed; a live one, or any file that is
// not a socket, is an error.
func listen(addr string, sock SocketOptions) (net.Listener, string, error) {
	path, ok := strings.CutPrefix(addr, "unix:")
	if !ok {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, "", fmt.Errorf("listen.grpc: %w", err)
		}
		return l, "", nil
	}
	path = strings.TrimPrefix(path, "//")
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, "", fmt.Errorf("listen.grpc: %w", err)
	}
	if err := checkSocketDir(dir); err != nil {
		return nil, "", fmt.Errorf("listen.grpc %s: %w", path, err)
	}
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode().Type() != os.ModeSocket {
			return nil, "", fmt.Errorf("listen.grpc %s (%s): %w", path, fi.Mode().Type(), ErrNotSocket)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, "", fmt.Errorf("listen.grpc: another process is serving %s", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, "", fmt.Errorf("listen.grpc: removing the stale socket: %w", err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, "", fmt.Errorf("listen.grpc: %w", err)
	}
	// The socket is closed for anyone but its owner until its mode is
	// set: umask decides what Listen creates.
	mode := sock.Mode
	if mode == 0 {
		mode = SocketMode
	}
	if sock.Group != "" {
		if err := chgrp(path, sock.Group); err != nil {
			l.Close()
			return nil, "", fmt.Errorf("listen.socket_group: %w", err)
		}
	}
	if err := os.Chmod(path, mode); err != nil {
		l.Close()
		return nil, "", fmt.Errorf("listen.socket_mode: %w", err)
	}
	return l, path, nil
}

// listenWarning says why a gRPC listener lets anyone who reaches it drive
// the host, or "" when it does not: TLS without client certificates, or
// plaintext TCP beyond loopback. A unix socket is guarded by its mode.
func listenWarning(t *TLSFiles, unix bool, addr net.Addr) string {
	switch {
	case t != nil && t.ClientCA == "":
		return "listen.grpc has tls without client_ca_file: clients need no certificate, so anyone who reaches " +
			addr.String() + " can drive the host; set client_ca_file"
	case t == nil && !unix && !isLoopback(addr):
		return "listen.grpc is plaintext on " + addr.String() + ": anyone who reaches it can drive the host; " +
			"use a unix socket, a loopback address or a tls block with client_ca_file"
	}
	return ""
}

func isLoopback(a net.Addr) bool {
	t, ok := a.(*net.TCPAddr)
	return ok && t.IP.IsLoopback()
}

// checkSocketDir refuses a directory that another user owns or that
// others may write to (a sticky shared one like /tmp included).
func checkSocketDir(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	if int(st.Uid) != os.Getuid() && st.Uid != 0 {
		return fmt.Errorf("%w: %s belongs to uid %d", ErrUnsafeSocketDir, dir, st.Uid)
	}
	if fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: others may write to %s (mode %v)", ErrUnsafeSocketDir, dir, fi.Mode().Perm())
	}
	return nil
}

func chgrp(path, group string) error {
	g, err := user.LookupGroup(group)
	if err != nil {
		if g, err = user.LookupGroupId(group); err != nil {
			return err
		}
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return err
	}
	return os.Chown(path, -1, gid)
}

// removeSocket removes the agent's socket on the way out, if it is still
// a socket (never a file someone put there since).
func removeSocket(path string) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode().Type() == os.ModeSocket {
		os.Remove(path)
	}
}

func serverTLS(f *TLSFiles) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, fmt.Errorf("tls: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("tls: %s holds no PEM certificate", f.ClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}
