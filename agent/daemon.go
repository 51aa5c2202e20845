package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/keepalive"
	"gopkg.in/natefinch/lumberjack.v2"

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
	logFile  io.Closer
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
	switch cfg.HostKind {
	case "hashicorp", "etcd-raft", "consul", "etcd":
	default:
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
	var sinks []io.Writer
	if cfg.LogFile != "" {
		if err := os.MkdirAll(filepath.Dir(cfg.LogFile), 0o755); err != nil {
			return nil, fmt.Errorf("log file: %w", err)
		}
		lj := &lumberjack.Logger{Filename: cfg.LogFile, MaxSize: cfg.LogMaxMB, MaxBackups: cfg.LogBackups}
		sinks = append(sinks, lj)
		d.logFile = lj
	}
	if cfg.LogStderr || len(sinks) == 0 {
		sinks = append(sinks, stderr)
	}
	d.log = hclog.New(&hclog.LoggerOptions{Name: "ns-agent", Output: io.MultiWriter(sinks...), JSONFormat: true, Level: hclog.Info})
	d.Agent = New(Config{Node: cfg.Node, HostKind: cfg.HostKind, Tick: cfg.Tick, LeaseTTL: cfg.LeaseTTL,
		Recommender: rec, Policy: pol, Log: d.log})
	d.svc = d.Agent.Service()
	// The read-only live view of this agent's decisions, on the HTTP
	// listener (loopback unless configured otherwise).
	d.dash = NewDashboard("ns-agent "+cfg.Node, nil)
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

	if cfg.HostKind == "consul" || cfg.HostKind == "etcd" {
		// Consul and etcd servers do not link to us: the agent polls them.
		h, err := pollHost(cfg)
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
	if d.grpcLis, d.sockPath, err = listen(cfg.GRPC); err != nil {
		d.Close()
		return nil, err
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
		grpc.KeepaliveParams(keepalive.ServerParameters{Time: 10 * time.Second, Timeout: 5 * time.Second}))
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
	mux.Handle("/", d.dash)
	live := func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok\n") }
	mux.HandleFunc("/livez", live)
	mux.HandleFunc("/healthz", live)
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
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
		os.Remove(d.sockPath)
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

func pollHost(cfg *FileConfig) (polledHost, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch cfg.HostKind {
	case "consul":
		return hashicorp.NewConsul(ctx, hashicorp.ConsulConfig{Address: cfg.HostAddress, Live: cfg.HostLive,
			Fragment: cfg.HostFragment, Token: os.Getenv("CONSUL_HTTP_TOKEN")})
	default:
		var tc *tls.Config
		if cfg.HostTLS != nil {
			var err error
			if tc, err = clientTLS(cfg.HostTLS); err != nil {
				return nil, fmt.Errorf("host tls: %w", err)
			}
		}
		return etcd.NewServer(ctx, etcd.ServerConfig{Endpoint: cfg.HostAddress, TLS: tc, HeartbeatInterval: cfg.HostHeartbeat,
			ElectionTimeout: cfg.HostElection, Handoff: etcd.HandoffConfig{Enabled: cfg.HostHandoff}})
	}
}

// clientTLS builds a client's TLS configuration: the CA that signs the
// server, and the client's own certificate when given.
func clientTLS(f *TLSFiles) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if f.ClientCA != "" {
		pem, err := os.ReadFile(f.ClientCA)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", f.ClientCA)
		}
		tc.RootCAs = pool
	}
	if f.Cert != "" {
		cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{cert}
	}
	return tc, nil
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
	o := model.Options{Seed: NodeSeed(cfg.Node)}
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

// NodeSeed derives a recommender's seed from its node's name, so agents of
// one cluster explore differently yet reproducibly.
func NodeSeed(node string) uint64 {
	h := fnv.New64a()
	io.WriteString(h, node)
	return h.Sum64()
}

// listen opens "unix:///path", "unix:path" or a TCP "host:port". A stale
// socket file left by a dead agent is removed; a live one is an error.
func listen(addr string) (net.Listener, string, error) {
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		path = strings.TrimPrefix(path, "//")
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, "", fmt.Errorf("listen.grpc: another process is serving %s", path)
		}
		os.Remove(path)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return nil, "", fmt.Errorf("listen.grpc: %w", err)
		}
		l, err := net.Listen("unix", path)
		if err != nil {
			return nil, "", fmt.Errorf("listen.grpc: %w", err)
		}
		return l, path, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, "", fmt.Errorf("listen.grpc: %w", err)
	}
	return l, "", nil
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
