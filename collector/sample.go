package collector

import (
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
	FieldVoters

	fieldEnd
)

var fieldNames = [...]string{
	"role", "term", "leader", "cluster_size", "prevote", "last_contact",
	"heartbeat_gap", "replication_gap", "rpc_retries", "rpc_failures",
	"cpu_idle_pct", "rtt", "elections", "leader_stable_for",
	"unreachable_voters", "host_timeouts", "disk_sync", "voters",
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

	// ElectionsInWindow counts the elections this node stood in (the
	// terms it campaigned for) in the collector's window (ElectionWindow
	// unless the source is configured otherwise);
	// FailedElectionsInWindow counts the ones that saw no leader within
	// twice the node's timeout (split votes, lost quorum, timeouts). See
	// Tracker.
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

	// Voters are the IDs of the voters in the configuration, this node's
	// included, in ascending order. The slice may be shared between
	// samples: read it, never modify it.
	Voters []string
	// VoteLease is how the host's voters treat a candidate while they
	// still have a leader: true when they ignore it until their own
	// election timeout has passed since they last heard from the leader
	// (the Raft thesis's rule, etcd's CheckQuorum with pre-vote), false
	// when they refuse it for as long as they know a leader, that is
	// until their own timer fires (hashicorp/raft). It decides whether a
	// follower with a shorter timeout than the others can win an
	// election alone (policy: successor_factor). Reported with Voters.
	VoteLease bool
}

// Has reports whether every field in f was measured.
func (s *Sample) Has(f Field) bool { return s.Present&f == f }

// Set marks the fields in f as measured.
func (s *Sample) Set(f Field) { s.Present |= f }

// Problem is one reason a sample cannot be trusted. Reason is a constant
// string, so finding a problem allocates nothing.
type Problem struct {
	Field  Field // 0 for the sample as a whole (its age)
	Reason string
}

func (p Problem) Error() string {
	if p.Field == 0 {
		return p.Reason
	}
	return p.Field.String() + ": " + p.Reason
}

// validity is the one list of what can make a present field unusable
// as a measurement, in the order problems are reported; invalid says
// whether it does.
var validity = [...]struct {
	field  Field
	reason string
}{
	{FieldCPUIdle, "cpu idle outside 0-100"},
	{FieldLastContact, "negative heartbeat timing"},
	{FieldHeartbeatGap, "negative heartbeat timing"},
	{FieldRTT, "negative rtt"},
	{FieldHostTimeouts, "negative host timeouts"},
	{FieldClusterSize, "cluster size below 1"},
	{FieldUnreachableVoters, "unreachable voters out of range"},
	{FieldElections, "inconsistent election counts"},
	{FieldRPCRetries, "negative rpc counts"},
	{FieldRPCFailures, "negative rpc counts"},
	{FieldLeaderStableFor, "negative leader stable time"},
	{FieldDiskSync, "negative disk sync latency"},
}

// invalid reports whether field f is present with a value that cannot be
// a measurement.
func (s *Sample) invalid(f Field) bool {
	if !s.Has(f) {
		return false
	}
	switch f {
	case FieldCPUIdle:
		return math.IsNaN(s.CPUIdlePct) || s.CPUIdlePct < 0 || s.CPUIdlePct > 100
	case FieldLastContact:
		return s.LastContact < 0
	case FieldHeartbeatGap:
		return s.HeartbeatGap < 0
	case FieldRTT:
		return s.RTTMean < 0 || s.RTTStdDev < 0 || s.RTTP99 < 0
	case FieldHostTimeouts:
		return s.HeartbeatTimeout < 0 || s.HeartbeatInterval < 0 || s.LeaderLeaseTimeout < 0 || s.ElectionTimeout < 0
	case FieldClusterSize:
		return s.ClusterSize < 1
	case FieldUnreachableVoters:
		return s.UnreachableVoters < 0 || (s.Has(FieldClusterSize) && s.UnreachableVoters >= s.ClusterSize)
	case FieldElections:
		return s.ElectionsInWindow < 0 || s.FailedElectionsInWindow < 0 || s.FailedElectionsInWindow > s.ElectionsInWindow
	case FieldRPCRetries:
		return s.RPCRetries < 0
	case FieldRPCFailures:
		return s.RPCFailures < 0
	case FieldLeaderStableFor:
		return s.LeaderStableFor < 0
	case FieldDiskSync:
		return s.DiskSyncP99 < 0
	}
	return false
}

// age is the sample-wide problem: with maxAge > 0 and a known now, a
// sample without a time, taken more than maxAge before now, or stamped
// more than maxAge after it (a clock that far ahead is as untrustworthy
// as one behind).
func (s *Sample) age(now time.Time, maxAge time.Duration) (Problem, bool) {
	switch {
	case maxAge <= 0 || now.IsZero():
		return Problem{}, false
	case s.At.IsZero() || now.Sub(s.At) > maxAge:
		return Problem{Reason: "stale sample"}, true
	case s.At.Sub(now) > maxAge:
		return Problem{Reason: "sample from the future"}, true
	}
	return Problem{}, false
}

// FirstProblem returns the first problem of s (see Check), without
// allocating; ok is false when s is usable.
func (s *Sample) FirstProblem(now time.Time, maxAge time.Duration) (p Problem, ok bool) {
	if p, ok := s.age(now, maxAge); ok {
		return p, true
	}
	for _, v := range validity {
		if s.invalid(v.field) {
			return Problem{Field: v.field, Reason: v.reason}, true
		}
	}
	return Problem{}, false
}

// Check returns every problem of s: fields whose value cannot be a
// measurement (negative durations or counts, CPU idle outside 0–100 or
// NaN, more failed elections than elections) and, when maxAge > 0 and now
// is known, a sample that is stale or from the future. A nil result means
// every present field is usable; missing fields are not problems.
func (s *Sample) Check(now time.Time, maxAge time.Duration) []Problem {
	var out []Problem
	if p, ok := s.age(now, maxAge); ok {
		out = append(out, p)
	}
	for _, v := range validity {
		if s.invalid(v.field) {
			out = append(out, Problem{Field: v.field, Reason: v.reason})
		}
	}
	return out
}
