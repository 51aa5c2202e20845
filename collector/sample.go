package collector

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// Role is a Raft node's role at the moment a Sample was taken.
type Role uint8

// Roles a node can be in. RoleUnknown is the zero value, so a sample that
// never learned the role says so instead of claiming "follower".
const (
	RoleUnknown Role = iota
	RoleFollower
	RoleCandidate
	RoleLeader
	RoleShutdown
)

// String returns the role's lower-case name, as hosts print it.
func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	case RoleShutdown:
		return "shutdown"
	default:
		return "unknown"
	}
}

// ParseRole maps a host's role name (any case) to a Role.
func ParseRole(s string) Role {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "follower":
		return RoleFollower
	case "candidate":
		return RoleCandidate
	case "leader":
		return RoleLeader
	case "shutdown":
		return RoleShutdown
	default:
		return RoleUnknown
	}
}

// ElectionWindow is how far back a source counts elections in a sample by
// default: every adapter and the simulator use it, so the model and the
// policy read ElectionsInWindow the same way whatever produced it.
const ElectionWindow = 30 * time.Second

// Field names one optional measurement of a Sample. A collector sets the bit
// of every field it actually measured; a field whose bit is clear is missing
// and its value must not be read as a measurement (it is not a zero).
type Field uint32

// The measurable fields of a Sample. Identity fields (Node, At) are always
// present and have no bit.
const (
	FieldRole Field = 1 << iota
	FieldTerm
	FieldLeader
	FieldClusterSize
	FieldPreVote
	FieldLastContact
	FieldHeartbeatGap
	FieldReplicationGap
	FieldRPCRetries
	FieldRPCFailures
	FieldCPUIdle
	FieldRTT
	FieldElections
	FieldLeaderStableFor
	FieldUnreachableVoters
	FieldHostTimeouts
	FieldDiskSync

	fieldEnd
)

var fieldNames = [...]string{
	"role", "term", "leader", "cluster_size", "prevote", "last_contact",
	"heartbeat_gap", "replication_gap", "rpc_retries", "rpc_failures",
	"cpu_idle_pct", "rtt", "elections", "leader_stable_for",
	"unreachable_voters", "host_timeouts", "disk_sync",
}

// String names the field as the recommendation log and policy variables do.
func (f Field) String() string {
	var parts []string
	for i := 0; Field(1<<i) < fieldEnd; i++ {
		if f&(1<<i) != 0 {
			parts = append(parts, fieldNames[i])
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// AllFields is the set of every measurable field.
const AllFields = fieldEnd - 1

// Sample is one observation of one Raft node, taken once per agent tick.
//
// The same type is produced by the live collectors (hashicorp/raft observer,
// etcd /metrics scraper, /proc) and by the simulator, so a recommender cannot
// tell simulated from live input. Durations are time.Duration; counts are
// per tick unless the field says "in the window".
type Sample struct {
	// Node is the host node's ID (for the simulator, "n1"…"nN").
	Node string
	// At is when the sample was taken (simulated time in the simulator).
	At time.Time
	// Present has the bit of every field that was measured.
	Present Field

	Role   Role
	Term   uint64
	Leader string // leader's node ID as this node believes it; "" when none

	// ClusterSize is the number of voters in the configuration.
	ClusterSize int
	// PreVote is whether the host runs the pre-vote extension.
	PreVote bool

	// LastContact is the time since this node last heard from a leader
	// (reference 000's last_heartbeat_latency). Zero on the leader itself.
	LastContact time.Duration
	// HeartbeatGap is the longest interval between consecutive leader
	// contacts seen during the tick, counting the still-open interval up to
	// At. It is the quantity the follower's election timer races against.
	HeartbeatGap time.Duration

	// ReplicationGap is how many log entries this node is behind the
	// leader's last known commit index (reference 000's log_replication_gap).
	ReplicationGap uint64
	// RPCRetries is the number of Raft RPCs retried during the tick
	// (reference 000's RPC_retry_count).
	RPCRetries int
	// RPCFailures is the number of Raft RPCs that failed during the tick.
	RPCFailures int

	// CPUIdlePct is the host's CPU idle share over the tick, 0–100
	// (reference 000's node_cpu_idle_pct).
	CPUIdlePct float64

	// RTTMean, RTTStdDev and RTTP99 summarize the round-trip times of Raft
	// RPCs (or probes) between this node and its peers over the window.
	RTTMean   time.Duration
	RTTStdDev time.Duration
	RTTP99    time.Duration

	// ElectionsInWindow counts elections (term changes) seen in the
	// collector's window (ElectionWindow unless the source is configured
	// otherwise); FailedElectionsInWindow counts the ones that ended
	// without a leader (split votes, lost quorum, timeouts).
	ElectionsInWindow       int
	FailedElectionsInWindow int
	// LeaderStableFor is how long the node has seen the same leader in the
	// same term; zero when it knows no leader.
	LeaderStableFor time.Duration
	// UnreachableVoters is how many voters other than this node it could not
	// reach during the window (a leader knows this from its replication; a
	// follower from probes).
	UnreachableVoters int

	// HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout and
	// HeartbeatInterval are the host's timing in force when sampled. For
	// hashicorp/raft the follower failure detector is HeartbeatTimeout and
	// the leader heartbeats every HeartbeatTimeout/10.
	HeartbeatTimeout   time.Duration
	ElectionTimeout    time.Duration
	LeaderLeaseTimeout time.Duration
	HeartbeatInterval  time.Duration

	// DiskSyncP99 is the 99th percentile of the host's durable-write latency
	// over the window (etcd: WAL fsync), where the host exposes it.
	DiskSyncP99 time.Duration
}

// Has reports whether every field in f was measured.
func (s *Sample) Has(f Field) bool { return s.Present&f == f }

// Set marks the fields in f as measured.
func (s *Sample) Set(f Field) { s.Present |= f }

// Problem is one reason a sample cannot be trusted.
type Problem struct {
	Field  Field
	Reason string
}

func (p Problem) Error() string { return fmt.Sprintf("%s: %s", p.Field, p.Reason) }

// Check returns the problems of s: fields whose value cannot be a measurement
// (negative durations or counts, CPU idle outside 0–100, NaN/Inf) and, when
// maxAge > 0, a sample taken more than maxAge before now. A nil result means
// every present field is usable; missing fields are not problems.
func (s *Sample) Check(now time.Time, maxAge time.Duration) []Problem {
	var out []Problem
	bad := func(f Field, format string, args ...any) {
		out = append(out, Problem{Field: f, Reason: fmt.Sprintf(format, args...)})
	}
	negDur := func(f Field, name string, d time.Duration) {
		if s.Has(f) && d < 0 {
			bad(f, "%s is negative (%s)", name, d)
		}
	}
	negDur(FieldLastContact, "last contact", s.LastContact)
	negDur(FieldHeartbeatGap, "heartbeat gap", s.HeartbeatGap)
	negDur(FieldRTT, "rtt mean", s.RTTMean)
	negDur(FieldRTT, "rtt stddev", s.RTTStdDev)
	negDur(FieldRTT, "rtt p99", s.RTTP99)
	negDur(FieldLeaderStableFor, "leader stable for", s.LeaderStableFor)
	negDur(FieldHostTimeouts, "heartbeat timeout", s.HeartbeatTimeout)
	negDur(FieldHostTimeouts, "election timeout", s.ElectionTimeout)
	negDur(FieldHostTimeouts, "leader lease timeout", s.LeaderLeaseTimeout)
	negDur(FieldHostTimeouts, "heartbeat interval", s.HeartbeatInterval)
	negDur(FieldDiskSync, "disk sync p99", s.DiskSyncP99)
	if s.Has(FieldCPUIdle) && (math.IsNaN(s.CPUIdlePct) || s.CPUIdlePct < 0 || s.CPUIdlePct > 100) {
		bad(FieldCPUIdle, "cpu idle %v%% is outside 0–100", s.CPUIdlePct)
	}
	if s.Has(FieldRPCRetries) && s.RPCRetries < 0 {
		bad(FieldRPCRetries, "rpc retries is negative (%d)", s.RPCRetries)
	}
	if s.Has(FieldRPCFailures) && s.RPCFailures < 0 {
		bad(FieldRPCFailures, "rpc failures is negative (%d)", s.RPCFailures)
	}
	if s.Has(FieldClusterSize) && s.ClusterSize < 1 {
		bad(FieldClusterSize, "cluster size %d is below 1", s.ClusterSize)
	}
	if s.Has(FieldElections) && (s.ElectionsInWindow < 0 || s.FailedElectionsInWindow < 0 || s.FailedElectionsInWindow > s.ElectionsInWindow) {
		bad(FieldElections, "election counts %d failed of %d are inconsistent", s.FailedElectionsInWindow, s.ElectionsInWindow)
	}
	if s.Has(FieldUnreachableVoters) && (s.UnreachableVoters < 0 || (s.Has(FieldClusterSize) && s.UnreachableVoters >= s.ClusterSize)) {
		bad(FieldUnreachableVoters, "unreachable voters %d is outside 0..cluster size-1", s.UnreachableVoters)
	}
	if maxAge > 0 && !now.IsZero() && !s.At.IsZero() && now.Sub(s.At) > maxAge {
		out = append(out, Problem{Reason: fmt.Sprintf("stale: taken %s ago, limit %s", now.Sub(s.At), maxAge)})
	}
	return out
}
