package model

import (
	"math"
	"time"

	"github.com/nsraft/nsraft/collector"
)

// NumFeatures is the size of the LSTM's per-sample input.
const NumFeatures = 10

// Unit is the fixed time scale of the LSTM's durations (inputs, target
// and forecast). It is a constant on purpose: scaling by the host's own
// heartbeat interval would feed the decided timeout back into the next
// proposal, because hashicorp/raft heartbeats at a tenth of the node's
// HeartbeatTimeout — a larger T would mean a larger unit, a larger
// forecast and a larger T again.
const Unit = 50 * time.Millisecond

// Features turns a sample into the LSTM's input vector. Durations are
// measured in Units (50ms) and log-compressed, so one model serves a LAN
// (1ms RTT) and a WAN (80ms) alike. A missing
// or bad field contributes 0 and sets the last feature, the share of
// fields missing, so the network can tell "zero" from "unknown".
//
//	0 last_heartbeat_latency  log1p(last contact / Unit)
//	1 heartbeat gap           log1p(longest gap in the tick / Unit)
//	2 log_replication_gap     log1p(entries behind)
//	3 RPC_retry_count         log1p(retries in the tick)
//	4 node_cpu_idle_pct       idle / 100
//	5 RTT p99                 log1p(p99 / Unit)
//	6 RTT spread              log1p(stddev / Unit)
//	7 elections in window     min(n, 5) / 5
//	8 leader stable for       log1p(seconds) / 5
//	9 missing                 share of features 0–8 that were missing
func Features(s *collector.Sample, out *[NumFeatures]float64) {
	unit := float64(Unit)
	missing := 0
	dur := func(i int, f collector.Field, d time.Duration) {
		if !s.Has(f) || d < 0 || d > 24*time.Hour {
			out[i] = 0
			missing++
			return
		}
		out[i] = math.Log1p(float64(d) / unit)
	}
	count := func(i int, f collector.Field, n float64) {
		if !s.Has(f) || n < 0 || math.IsNaN(n) || math.IsInf(n, 0) {
			out[i] = 0
			missing++
			return
		}
		out[i] = math.Log1p(n)
	}
	dur(0, collector.FieldLastContact, s.LastContact)
	dur(1, collector.FieldHeartbeatGap, s.HeartbeatGap)
	count(2, collector.FieldReplicationGap, float64(s.ReplicationGap))
	count(3, collector.FieldRPCRetries, float64(s.RPCRetries))
	if s.Has(collector.FieldCPUIdle) && s.CPUIdlePct >= 0 && s.CPUIdlePct <= 100 {
		out[4] = s.CPUIdlePct / 100
	} else {
		out[4] = 0
		missing++
	}
	dur(5, collector.FieldRTT, s.RTTP99)
	dur(6, collector.FieldRTT, s.RTTStdDev)
	if s.Has(collector.FieldElections) && s.ElectionsInWindow >= 0 {
		out[7] = math.Min(float64(s.ElectionsInWindow), 5) / 5
	} else {
		out[7] = 0
		missing++
	}
	if s.Has(collector.FieldLeaderStableFor) && s.LeaderStableFor >= 0 {
		out[8] = math.Log1p(s.LeaderStableFor.Seconds()) / 5
	} else {
		out[8] = 0
		missing++
	}
	out[9] = float64(missing) / 9
}

// Silent reports whether a follower knows no leader, or heard nothing
// from its leader during the tick and has not for more than two
// heartbeats: the leader may be gone. The LSTM neither learns from nor
// steps on such samples — a forecaster that reads a dead leader's silence
// as "gaps are growing" raises the timeout and waits for the very failure
// it should detect. Before a cluster's first election every node is in
// that state, so the LSTM keeps the host's own timing until there is a
// leader to hear from.
func Silent(s *collector.Sample, hb time.Duration) bool {
	if s.Role == collector.RoleLeader {
		return false
	}
	if s.Has(collector.FieldLeader) && s.Leader == "" {
		return true
	}
	if !s.Has(collector.FieldLastContact) {
		return false
	}
	heardThisTick := s.Has(collector.FieldHeartbeatGap) && s.LastContact < s.HeartbeatGap
	return !heardThisTick && s.LastContact > 2*hb
}
