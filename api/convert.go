package api

import (
	"slices"
	"time"

	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// FromSample encodes a sample for the wire. Missing fields stay unset.
func FromSample(s collector.Sample) *nsraftv1.Sample {
	p := &nsraftv1.Sample{Node: s.Node}
	if !s.At.IsZero() {
		p.AtUnixNano = s.At.UnixNano()
	}
	if s.Has(collector.FieldRole) {
		r := s.Role.String()
		p.Role = &r
	}
	if s.Has(collector.FieldTerm) {
		p.Term = &s.Term
	}
	if s.Has(collector.FieldLeader) {
		p.Leader = &s.Leader
	}
	if s.Has(collector.FieldClusterSize) {
		p.ClusterSize = i64(int64(s.ClusterSize))
	}
	if s.Has(collector.FieldPreVote) {
		p.PreVote = &s.PreVote
	}
	if s.Has(collector.FieldLastContact) {
		p.LastContactNs = i64(int64(s.LastContact))
	}
	if s.Has(collector.FieldHeartbeatGap) {
		p.HeartbeatGapNs = i64(int64(s.HeartbeatGap))
	}
	if s.Has(collector.FieldReplicationGap) {
		p.ReplicationGapEntries = &s.ReplicationGap
	}
	if s.Has(collector.FieldRPCRetries) {
		p.RpcRetries = i64(int64(s.RPCRetries))
	}
	if s.Has(collector.FieldRPCFailures) {
		p.RpcFailures = i64(int64(s.RPCFailures))
	}
	if s.Has(collector.FieldCPUIdle) {
		p.CpuIdlePct = &s.CPUIdlePct
	}
	if s.Has(collector.FieldRTT) {
		p.Rtt = &nsraftv1.RTT{MeanNs: int64(s.RTTMean), StddevNs: int64(s.RTTStdDev), P99Ns: int64(s.RTTP99)}
	}
	if s.Has(collector.FieldElections) {
		p.Elections = &nsraftv1.Elections{InWindow: int64(s.ElectionsInWindow), FailedInWindow: int64(s.FailedElectionsInWindow)}
	}
	if s.Has(collector.FieldLeaderStableFor) {
		p.LeaderStableForNs = i64(int64(s.LeaderStableFor))
	}
	if s.Has(collector.FieldUnreachableVoters) {
		p.UnreachableVoters = i64(int64(s.UnreachableVoters))
	}
	if s.Has(collector.FieldHostTimeouts) {
		p.HostTimeouts = &nsraftv1.HostTimeouts{HeartbeatTimeoutNs: int64(s.HeartbeatTimeout), ElectionTimeoutNs: int64(s.ElectionTimeout),
			LeaderLeaseTimeoutNs: int64(s.LeaderLeaseTimeout), HeartbeatIntervalNs: int64(s.HeartbeatInterval)}
	}
	if s.Has(collector.FieldDiskSync) {
		p.DiskSyncP99Ns = i64(int64(s.DiskSyncP99))
	}
	if s.Has(collector.FieldVoters) {
		p.Voters = &nsraftv1.Voters{Ids: s.Voters, VoteLease: s.VoteLease}
	}
	return p
}

// ToSample decodes a wire sample. It does not judge the values: the
// policy checks every sample and holds the value in force on bad ones.
func ToSample(p *nsraftv1.Sample) collector.Sample {
	s := collector.Sample{Node: p.GetNode()}
	if p.GetAtUnixNano() != 0 {
		s.At = time.Unix(0, p.GetAtUnixNano())
	}
	if p.Role != nil {
		s.Role = collector.ParseRole(*p.Role)
		s.Set(collector.FieldRole)
	}
	if p.Term != nil {
		s.Term = *p.Term
		s.Set(collector.FieldTerm)
	}
	if p.Leader != nil {
		s.Leader = *p.Leader
		s.Set(collector.FieldLeader)
	}
	if p.ClusterSize != nil {
		s.ClusterSize = clampInt(*p.ClusterSize)
		s.Set(collector.FieldClusterSize)
	}
	if p.PreVote != nil {
		s.PreVote = *p.PreVote
		s.Set(collector.FieldPreVote)
	}
	if p.LastContactNs != nil {
		s.LastContact = time.Duration(*p.LastContactNs)
		s.Set(collector.FieldLastContact)
	}
	if p.HeartbeatGapNs != nil {
		s.HeartbeatGap = time.Duration(*p.HeartbeatGapNs)
		s.Set(collector.FieldHeartbeatGap)
	}
	if p.ReplicationGapEntries != nil {
		s.ReplicationGap = *p.ReplicationGapEntries
		s.Set(collector.FieldReplicationGap)
	}
	if p.RpcRetries != nil {
		s.RPCRetries = clampInt(*p.RpcRetries)
		s.Set(collector.FieldRPCRetries)
	}
	if p.RpcFailures != nil {
		s.RPCFailures = clampInt(*p.RpcFailures)
		s.Set(collector.FieldRPCFailures)
	}
	if p.CpuIdlePct != nil {
		s.CPUIdlePct = *p.CpuIdlePct
		s.Set(collector.FieldCPUIdle)
	}
	if r := p.Rtt; r != nil {
		s.RTTMean, s.RTTStdDev, s.RTTP99 = time.Duration(r.MeanNs), time.Duration(r.StddevNs), time.Duration(r.P99Ns)
		s.Set(collector.FieldRTT)
	}
	if e := p.Elections; e != nil {
		s.ElectionsInWindow, s.FailedElectionsInWindow = clampInt(e.InWindow), clampInt(e.FailedInWindow)
		s.Set(collector.FieldElections)
	}
	if p.LeaderStableForNs != nil {
		s.LeaderStableFor = time.Duration(*p.LeaderStableForNs)
		s.Set(collector.FieldLeaderStableFor)
	}
	if p.UnreachableVoters != nil {
		s.UnreachableVoters = clampInt(*p.UnreachableVoters)
		s.Set(collector.FieldUnreachableVoters)
	}
	if h := p.HostTimeouts; h != nil {
		s.HeartbeatTimeout, s.ElectionTimeout = time.Duration(h.HeartbeatTimeoutNs), time.Duration(h.ElectionTimeoutNs)
		s.LeaderLeaseTimeout, s.HeartbeatInterval = time.Duration(h.LeaderLeaseTimeoutNs), time.Duration(h.HeartbeatIntervalNs)
		s.Set(collector.FieldHostTimeouts)
	}
	if p.DiskSyncP99Ns != nil {
		s.DiskSyncP99 = time.Duration(*p.DiskSyncP99Ns)
		s.Set(collector.FieldDiskSync)
	}
	if v := p.Voters; v != nil {
		if len(v.Ids) > 0 {
			s.Voters = slices.Clone(v.Ids)
		}
		s.VoteLease = v.VoteLease
		s.Set(collector.FieldVoters)
	}
	return s
}

func i64(v int64) *int64 { return &v }

// clampInt keeps a wire count inside int32 range, so a hostile value cannot
// overflow arithmetic downstream; the policy then judges it.
func clampInt(v int64) int {
	const lim = 1 << 31
	return int(min(max(v, -lim), lim-1))
}
