package agent

import (
	"runtime"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/policy"
)

// Metrics are the agent's Prometheus collectors: ns_agent_* in base units,
// each with the host node's name as the node label, beside the standard
// go_* and process_* collectors.
type Metrics struct {
	reg *prometheus.Registry
	// node labels every series instead of the sample's node, so a host
	// cannot grow the series (and memory) by naming nodes.
	node string

	decisions     *prometheus.CounterVec
	timeout       *prometheus.GaugeVec
	proposal      *prometheus.GaugeVec
	confidence    *prometheus.GaugeVec
	rules         *prometheus.CounterVec
	held          *prometheus.CounterVec
	applyErrors   *prometheus.CounterVec
	badSamples    *prometheus.CounterVec
	latency       prometheus.Observer // this agent's node
	hostConnected prometheus.Gauge    // this agent's node
	connects      prometheus.Counter  // this agent's node
	reloads       *prometheus.CounterVec
	// sessionsRefused counts host streams refused because a session was
	// already open.
	sessionsRefused prometheus.Counter
	// logErrors counts records the log could not write; logHealthy is 0
	// while the last write failed.
	logErrors  prometheus.Counter
	logHealthy prometheus.Gauge
	logDropped prometheus.Counter

	// What the host's samples say about its cluster: churn shows here
	// before anywhere else.
	role         *prometheus.GaugeVec
	term         *prometheus.GaugeVec
	elections    *prometheus.CounterVec
	unnecessary  *prometheus.CounterVec
	failed       *prometheus.CounterVec
	heartbeatGap *prometheus.GaugeVec
	lastContact  *prometheus.GaugeVec
	rttMean      *prometheus.GaugeVec
	rttP99       *prometheus.GaugeVec
	lastDecision *prometheus.GaugeVec

	// What an advisory host is told, and leader hand-offs.
	adviceChanges *prometheus.CounterVec
	advisedHB     *prometheus.GaugeVec
	advisedET     *prometheus.GaugeVec
	degraded      *prometheus.GaugeVec
	planned       *prometheus.GaugeVec
	moved         *prometheus.GaugeVec

	mu    sync.Mutex
	nodes map[string]*nodeTrack
}

// nodeTrack is what the metrics remember of a node between decisions, to
// turn samples into counters and to drop series that no longer apply.
type nodeTrack struct {
	recommender string
	term        uint64 // 0 until a sample carried a term
	leaderSeen  bool   // a leader was known during term
	inContact   bool   // the last sample had recent contact with a live leader
}

var roles = []collector.Role{collector.RoleUnknown, collector.RoleFollower, collector.RoleCandidate, collector.RoleLeader, collector.RoleShutdown}

// BuildInfo describes the running binary for ns_agent_build_info.
type BuildInfo struct {
	Version, Revision string
}

// ReadBuildInfo reads the version and VCS revision the Go toolchain
// stamped into the binary; version, when not empty, overrides the module
// version (a release build sets it at link time).
func ReadBuildInfo(version string) BuildInfo {
	b := BuildInfo{Version: version, Revision: "unknown"}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				b.Revision = s.Value
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

func newMetrics(node string, build BuildInfo) *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), node: node, nodes: map[string]*nodeTrack{}}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append([]string{"node"}, labels...))
	}
	gauge := func(name, help string, labels ...string) *prometheus.GaugeVec {
		return prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name, Help: help}, append([]string{"node"}, labels...))
	}
	m.decisions = counter("ns_agent_decisions_total", "Decisions made, by host node and whether the host applied them.", "applied")
	m.timeout = gauge("ns_agent_election_timeout_seconds", "The decided base election timeout.")
	m.proposal = gauge("ns_agent_proposal_seconds", "The recommender's proposed timeout, before the policy.", "recommender")
	m.confidence = gauge("ns_agent_proposal_confidence_ratio", "The recommender's confidence in its proposal, 0 to 1.")
	m.rules = counter("ns_agent_rule_changes_total", "Times an invariant or rule changed or held the value.", "rule")
	m.held = counter("ns_agent_held_total", "Decisions that kept the value in force on purpose.")
	m.applyErrors = counter("ns_agent_apply_errors_total", "Decisions the host refused or did not acknowledge.")
	m.badSamples = counter("ns_agent_bad_samples_total", "Samples with unusable or stale telemetry (held, not acted on).")
	latency := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "ns_agent_decision_latency_seconds",
		Help:    "Time from the host sending a sample to the decision being in force.",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3}}, []string{"node"})
	hostConnected := gauge("ns_agent_host_connected", "1 while a host node is connected over the protocol.")
	connects := counter("ns_agent_host_connects_total", "Host connections accepted.")
	m.latency, m.hostConnected, m.connects = latency.WithLabelValues(node), hostConnected.WithLabelValues(node), connects.WithLabelValues(node)
	m.reloads = counter("ns_agent_reloads_total", "Configuration reloads (SIGHUP), by result.", "result")
	refused := counter("ns_agent_host_sessions_refused_total", "Host streams refused because a host session was already open.")
	logErrors := counter("ns_agent_log_write_errors_total", "Log records that could not be written (full disk, unwritable directory).")
	logHealthy := gauge("ns_agent_log_healthy", "1 while the log is being written, 0 after a failed write until one succeeds.")
	logDropped := counter("ns_agent_log_rotated_away_bytes_total", "Bytes of log deleted by rotation (backups beyond log.max_backups).")
	m.sessionsRefused, m.logErrors, m.logHealthy, m.logDropped = refused.WithLabelValues(node), logErrors.WithLabelValues(node),
		logHealthy.WithLabelValues(node), logDropped.WithLabelValues(node)
	m.logHealthy.Set(1)
	m.sessionsRefused.Add(0)
	m.logErrors.Add(0)
	m.logDropped.Add(0)

	m.role = gauge("ns_agent_raft_role", "1 for the role the host node is in, 0 for the others.", "role")
	m.term = gauge("ns_agent_raft_term", "The host node's current Raft term.")
	m.elections = counter("ns_agent_raft_elections_total", "Raft terms started, as seen by the host node (term increases).")
	m.unnecessary = counter("ns_agent_raft_unnecessary_elections_total",
		"Terms started while the host node still heard from its leader within the timeout in force.")
	m.failed = counter("ns_agent_raft_failed_elections_total", "Terms that ended without the host node seeing a leader (split votes, lost quorum).")
	m.heartbeatGap = gauge("ns_agent_heartbeat_gap_seconds", "Longest interval between leader contacts in the last tick, open interval included.")
	m.lastContact = gauge("ns_agent_last_contact_seconds", "Time since the host node last heard from a leader.")
	m.rttMean = gauge("ns_agent_peer_rtt_mean_seconds", "Mean round-trip time to the peers over the collector's window.")
	m.rttP99 = gauge("ns_agent_peer_rtt_p99_seconds", "99th percentile round-trip time to the peers over the collector's window.")
	m.lastDecision = gauge("ns_agent_last_decision_timestamp_seconds", "Unix time of the latest decision; time() minus it is the time since.")
	m.adviceChanges = counter("ns_agent_advice_changes_total",
		"Times an advisory host's advice changed: the setting an operator is told to use (the first advice counts).")
	m.advisedHB = gauge("ns_agent_advised_heartbeat_interval_seconds", "The restart-time heartbeat interval advised (etcd --heartbeat-interval).")
	m.advisedET = gauge("ns_agent_advised_election_timeout_seconds", "The restart-time election timeout advised (etcd --election-timeout).")
	m.degraded = gauge("ns_agent_leader_degraded", "1 while the host leads and its own figures show it degrading.")
	m.planned = gauge("ns_agent_handoff_planned", "1 from a hand-off's announcement until it is made or dropped: steer clients away.")
	m.moved = gauge("ns_agent_handoffs", "Leader hand-offs this agent made since it started.")
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_build_info",
		Help: "Always 1; the labels say which ns-agent build runs."}, []string{"version", "revision", "goversion"})
	info.WithLabelValues(build.Version, build.Revision, runtime.Version()).Set(1)

	m.reg.MustRegister(m.decisions, m.timeout, m.proposal, m.confidence, m.rules, m.held, m.applyErrors,
		m.badSamples, latency, hostConnected, connects, m.reloads, refused, logErrors, logHealthy, logDropped,
		m.role, m.term, m.elections, m.unnecessary, m.failed, m.heartbeatGap, m.lastContact, m.rttMean, m.rttP99,
		m.lastDecision, m.adviceChanges, m.advisedHB, m.advisedET, m.degraded, m.planned, m.moved, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reloads.WithLabelValues(node, "ok").Add(0)
	m.reloads.WithLabelValues(node, "error").Add(0)
	m.hostConnected.Set(0)
	m.connects.Add(0)
	return m
}

// Registry is where the agent's collectors are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) observe(r *Record) {
	node := r.Node
	if m.node != "" {
		node = m.node
	}
	applied := "advisory"
	if r.Live {
		applied = "false"
		if r.Applied {
			applied = "true"
		}
	}
	m.decisions.WithLabelValues(node, applied).Inc()
	// Counters a node may not have incremented yet still export a zero,
	// so dashboards and alerts see the series from the start.
	for _, c := range []*prometheus.CounterVec{m.held, m.applyErrors, m.badSamples, m.elections, m.unnecessary, m.failed, m.adviceChanges} {
		c.WithLabelValues(node).Add(0)
	}
	m.timeout.WithLabelValues(node).Set(r.Decision.Timeout.Seconds())
	m.proposal.WithLabelValues(node, r.Recommender).Set(r.Proposal.Timeout.Seconds())
	m.confidence.WithLabelValues(node).Set(r.Proposal.Confidence)
	m.lastDecision.WithLabelValues(node).Set(float64(r.At.UnixNano()) / 1e9)
	if r.Decision.Held {
		m.held.WithLabelValues(node).Inc()
	}
	if r.Live && !r.Applied {
		m.applyErrors.WithLabelValues(node).Inc()
	}
	if r.AdviceChanged {
		m.adviceChanges.WithLabelValues(node).Inc()
	}
	for _, c := range r.Decision.Checks() {
		if c.Effect == policy.Changed || c.Effect == policy.Held {
			m.rules.WithLabelValues(node, c.Name).Inc()
		}
		if c.ID == policy.CheckTelemetry {
			m.badSamples.WithLabelValues(node).Inc()
		}
	}
	m.observeHost(r, node)
}

// observeHost exports what the sample says of the host's Raft and turns
// term changes into election counters. The first sample with a term only
// sets the baseline: elections before the agent started are not counted.
func (m *Metrics) observeHost(r *Record, node string) {
	s := &r.Sample
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.nodes[node]
	if t == nil {
		t = &nodeTrack{}
		m.nodes[node] = t
	}
	// A switched recommender (SIGHUP, the demo's control) leaves no stale
	// proposal series behind.
	if t.recommender != "" && t.recommender != r.Recommender {
		m.proposal.DeleteLabelValues(node, t.recommender)
	}
	t.recommender = r.Recommender

	if s.Has(collector.FieldRole) {
		for _, ro := range roles {
			v := 0.0
			if ro == s.Role {
				v = 1
			}
			m.role.WithLabelValues(node, ro.String()).Set(v)
		}
	}
	if s.Has(collector.FieldHeartbeatGap) {
		m.heartbeatGap.WithLabelValues(node).Set(s.HeartbeatGap.Seconds())
	}
	if s.Has(collector.FieldLastContact) {
		m.lastContact.WithLabelValues(node).Set(s.LastContact.Seconds())
	}
	if s.Has(collector.FieldRTT) {
		m.rttMean.WithLabelValues(node).Set(s.RTTMean.Seconds())
		m.rttP99.WithLabelValues(node).Set(s.RTTP99.Seconds())
	}
	if !s.Has(collector.FieldTerm) {
		return
	}
	m.term.WithLabelValues(node).Set(float64(s.Term))
	hasLeader := s.Has(collector.FieldLeader) && s.Leader != "" || s.Has(collector.FieldRole) && s.Role == collector.RoleLeader
	switch {
	case t.term == 0:
		// baseline
	case s.Term > t.term:
		started := s.Term - t.term
		m.elections.WithLabelValues(node).Add(float64(started))
		// Terms that came and went without a leader: the one that ended
		// now if it never had one, and every term skipped over.
		failed := started - 1
		if !t.leaderSeen {
			failed++
		}
		m.failed.WithLabelValues(node).Add(float64(failed))
		if t.inContact {
			m.unnecessary.WithLabelValues(node).Inc()
		}
		t.leaderSeen = false
	}
	if s.Term >= t.term {
		t.term = s.Term
		t.leaderSeen = t.leaderSeen || hasLeader
	}
	// In contact: the leader itself, or a follower that knows its leader
	// and heard from it within half the timeout in force (a healthy one
	// hears every tenth; a dead leader's followers pass half the timeout
	// ticks before any timer can fire). A new term right after such a
	// sample was not forced by a dead leader.
	timeout := s.HeartbeatTimeout
	if timeout <= 0 {
		timeout = r.Decision.Timeout
	}
	t.inContact = s.Has(collector.FieldRole) && s.Role == collector.RoleLeader ||
		hasLeader && s.Has(collector.FieldLastContact) && s.LastContact < timeout/2
}

func (m *Metrics) advised(node string, heartbeat, election time.Duration) {
	if m.node != "" {
		node = m.node
	}
	m.advisedHB.WithLabelValues(node).Set(heartbeat.Seconds())
	m.advisedET.WithLabelValues(node).Set(election.Seconds())
}

func (m *Metrics) handoffs(node string, degraded, planned bool, moves int) {
	if m.node != "" {
		node = m.node
	}
	b := func(v bool) float64 {
		if v {
			return 1
		}
		return 0
	}
	m.degraded.WithLabelValues(node).Set(b(degraded))
	m.planned.WithLabelValues(node).Set(b(planned))
	m.moved.WithLabelValues(node).Set(float64(moves))
}

// Reloaded counts a configuration reload.
func (m *Metrics) Reloaded(ok bool) {
	if ok {
		m.reloads.WithLabelValues(m.node, "ok").Inc()
	} else {
		m.reloads.WithLabelValues(m.node, "error").Inc()
	}
}
