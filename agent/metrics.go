package agent

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nsraft/nsraft/policy"
)

// Metrics are the agent's Prometheus collectors, all named ns_agent_* in
// base units.
type Metrics struct {
	reg *prometheus.Registry
	// node, when set, labels every series instead of the sample's node,
	// so a host cannot grow the series (and memory) by naming nodes.
	node string

	decisions     *prometheus.CounterVec
	timeout       *prometheus.GaugeVec
	proposal      *prometheus.GaugeVec
	confidence    *prometheus.GaugeVec
	rules         *prometheus.CounterVec
	held          *prometheus.CounterVec
	applyErrors   *prometheus.CounterVec
	badSamples    *prometheus.CounterVec
	latency       prometheus.Histogram
	hostConnected prometheus.Gauge
	connects      prometheus.Counter
	// sessionsRefused counts host streams refused because a session was
	// already open.
	sessionsRefused prometheus.Counter
	// logErrors counts records the log could not write; logHealthy is 0
	// while the last write failed.
	logErrors     prometheus.Counter
	logHealthy    prometheus.Gauge
	logDropped    prometheus.Counter
	reloads       *prometheus.CounterVec
	watchers      prometheus.GaugeFunc
	adviceChanges *prometheus.CounterVec
	advisedHB     *prometheus.GaugeVec
	advisedET     *prometheus.GaugeVec
	degraded      *prometheus.GaugeVec
	planned       *prometheus.GaugeVec
	moved         *prometheus.GaugeVec
}

func newMetrics() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry()}
	m.decisions = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_decisions_total",
		Help: "Decisions made, by host node and whether the host applied them."}, []string{"node", "applied"})
	m.timeout = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_election_timeout_seconds",
		Help: "The decided base election timeout."}, []string{"node"})
	m.proposal = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_proposal_seconds",
		Help: "The recommender's proposed timeout, before the policy."}, []string{"node", "recommender"})
	m.confidence = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_proposal_confidence_ratio",
		Help: "The recommender's confidence in its proposal, 0 to 1."}, []string{"node"})
	m.rules = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_rule_changes_total",
		Help: "Times an invariant or rule changed or held the value."}, []string{"node", "rule"})
	m.held = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_held_total",
		Help: "Decisions that kept the value in force on purpose."}, []string{"node"})
	m.applyErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_apply_errors_total",
		Help: "Decisions the host refused or did not acknowledge."}, []string{"node"})
	m.badSamples = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_bad_samples_total",
		Help: "Samples with unusable or stale telemetry (held, not acted on)."}, []string{"node"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ns_agent_decision_latency_seconds",
		Help:    "Time from the host sending a sample to the decision being in force.",
		Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 50e-3}})
	m.hostConnected = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ns_agent_host_connected",
		Help: "1 while a host node is connected over the protocol."})
	m.connects = prometheus.NewCounter(prometheus.CounterOpts{Name: "ns_agent_host_connects_total",
		Help: "Host connections accepted."})
	m.sessionsRefused = prometheus.NewCounter(prometheus.CounterOpts{Name: "ns_agent_host_sessions_refused_total",
		Help: "Host streams refused because a host session was already open."})
	m.logErrors = prometheus.NewCounter(prometheus.CounterOpts{Name: "ns_agent_log_write_errors_total",
		Help: "Log records that could not be written (full disk, unwritable directory)."})
	m.logHealthy = prometheus.NewGauge(prometheus.GaugeOpts{Name: "ns_agent_log_healthy",
		Help: "1 while the log is being written, 0 after a failed write until one succeeds."})
	m.logHealthy.Set(1)
	m.logDropped = prometheus.NewCounter(prometheus.CounterOpts{Name: "ns_agent_log_rotated_away_bytes_total",
		Help: "Bytes of log deleted by rotation (backups beyond log.max_backups)."})
	m.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_reloads_total",
		Help: "Configuration reloads (SIGHUP), by result."}, []string{"result"})
	m.adviceChanges = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ns_agent_advice_changes_total",
		Help: "Times an advisory host's advice changed (the first advice counts)."}, []string{"node"})
	m.advisedHB = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_advised_heartbeat_interval_seconds",
		Help: "The restart-time heartbeat interval advised (etcd --heartbeat-interval)."}, []string{"node"})
	m.advisedET = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_advised_election_timeout_seconds",
		Help: "The restart-time election timeout advised (etcd --election-timeout)."}, []string{"node"})
	m.degraded = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_leader_degraded",
		Help: "1 while the host leads and its own figures show it degrading."}, []string{"node"})
	m.planned = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_handoff_planned",
		Help: "1 from a hand-off's announcement until it is made or dropped: steer clients away."}, []string{"node"})
	m.moved = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ns_agent_handoffs",
		Help: "Leader hand-offs this agent made since it started."}, []string{"node"})
	m.reg.MustRegister(m.adviceChanges, m.advisedHB, m.advisedET, m.degraded, m.planned, m.moved)
	m.reg.MustRegister(m.decisions, m.timeout, m.proposal, m.confidence, m.rules, m.held, m.applyErrors,
		m.badSamples, m.latency, m.hostConnected, m.connects, m.reloads, m.sessionsRefused, m.logErrors, m.logHealthy, m.logDropped,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{Namespace: "ns_agent"}))
	m.reloads.WithLabelValues("ok").Add(0)
	m.reloads.WithLabelValues("error").Add(0)
	return m
}

// Registry is where the agent's collectors are registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

func (m *Metrics) observe(r *Record) {
	applied := "advisory"
	if r.Live {
		applied = "false"
		if r.Applied {
			applied = "true"
		}
	}
	node := r.Node
	if m.node != "" {
		node = m.node
	}
	m.decisions.WithLabelValues(node, applied).Inc()
	// Counters a node may not have incremented yet still export a zero,
	// so dashboards and alerts see the series from the start.
	m.held.WithLabelValues(node).Add(0)
	m.applyErrors.WithLabelValues(node).Add(0)
	m.badSamples.WithLabelValues(node).Add(0)
	m.timeout.WithLabelValues(node).Set(r.Decision.Timeout.Seconds())
	m.proposal.WithLabelValues(node, r.Recommender).Set(r.Proposal.Timeout.Seconds())
	m.confidence.WithLabelValues(node).Set(r.Proposal.Confidence)
	if r.Decision.Held {
		m.held.WithLabelValues(node).Inc()
	}
	if r.Live && !r.Applied {
		m.applyErrors.WithLabelValues(node).Inc()
	}
	if r.AdviceChanged {
		m.adviceChanges.WithLabelValues(r.Node).Inc()
	}
	for _, c := range r.Decision.Checks() {
		if c.Effect == policy.Changed || c.Effect == policy.Held {
			m.rules.WithLabelValues(node, c.Name).Inc()
		}
		if c.ID == policy.CheckTelemetry {
			m.badSamples.WithLabelValues(node).Inc()
		}
	}
}

func (m *Metrics) advised(node string, heartbeat, election time.Duration) {
	m.advisedHB.WithLabelValues(node).Set(heartbeat.Seconds())
	m.advisedET.WithLabelValues(node).Set(election.Seconds())
}

func (m *Metrics) handoffs(node string, degraded, planned bool, moves int) {
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
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("error").Inc()
	}
}
