package etcd

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Metrics is what the adapter reads from an etcd member's /metrics, as
// cumulative values; Window turns two readings into rates and quantiles.
type Metrics struct {
	At time.Time
	// PeerRTT merges etcd_network_peer_round_trip_time_seconds over all
	// peers; PeerRTTByPeer keeps each peer's (label To, a member ID).
	PeerRTT       Histogram
	PeerRTTByPeer map[string]Histogram
	WALFsync      Histogram // etcd_disk_wal_fsync_duration_seconds
	BackendCommit Histogram // etcd_disk_backend_commit_duration_seconds

	LeaderChanges       float64 // etcd_server_leader_changes_seen_total
	HeartbeatFailures   float64 // etcd_server_heartbeat_send_failures_total
	ProposalsFailed     float64 // etcd_server_proposals_failed_total
	ProposalsPending    float64 // etcd_server_proposals_pending
	SlowApplies         float64 // etcd_server_slow_apply_total
	IsLeader, HasLeader bool
	// ProcessCPU is the member process's own CPU time (user + system,
	// process_cpu_seconds_total), not the machine's; ProcessStart is when
	// it started (process_start_time_seconds), zero when not exposed.
	ProcessCPU   time.Duration
	ProcessStart time.Time
}

// Histogram is a cumulative Prometheus histogram: upper bounds (seconds)
// and counts, sorted, the last bound +Inf.
type Histogram struct {
	Bounds []float64
	Counts []float64
	Sum    float64
	Count  float64
}

// Sub returns h − old: the observations between two readings. A counter
// reset (a restarted member) yields h itself.
func (h Histogram) Sub(old Histogram) Histogram {
	if len(old.Bounds) != len(h.Bounds) || old.Count > h.Count {
		return h
	}
	out := Histogram{Bounds: h.Bounds, Counts: make([]float64, len(h.Counts)), Sum: h.Sum - old.Sum, Count: h.Count - old.Count}
	for i := range h.Counts {
		out.Counts[i] = h.Counts[i] - old.Counts[i]
	}
	return out
}

// Quantile estimates the q-quantile by linear interpolation inside the
// bucket that holds it, as Prometheus's histogram_quantile does. ok is
// false for an empty histogram.
func (h Histogram) Quantile(q float64) (time.Duration, bool) {
	if h.Count <= 0 || len(h.Bounds) == 0 {
		return 0, false
	}
	rank := q * h.Count
	lower, prev := 0.0, 0.0
	for i, ub := range h.Bounds {
		if h.Counts[i] >= rank {
			if math.IsInf(ub, 1) {
				return seconds(lower), true // the highest finite bound
			}
			in := h.Counts[i] - prev
			frac := 1.0
			if in > 0 {
				frac = (rank - prev) / in
			}
			return seconds(lower + (ub-lower)*frac), true
		}
		if !math.IsInf(ub, 1) {
			lower = ub
		}
		prev = h.Counts[i]
	}
	return seconds(lower), true
}

// Mean is sum/count.
func (h Histogram) Mean() (time.Duration, bool) {
	if h.Count <= 0 {
		return 0, false
	}
	return seconds(h.Sum / h.Count), true
}

// StdDev estimates the spread from bucket midpoints.
func (h Histogram) StdDev() time.Duration {
	if h.Count <= 1 {
		return 0
	}
	mean := h.Sum / h.Count
	var ss, prevC, lower float64
	for i, ub := range h.Bounds {
		n := h.Counts[i] - prevC
		prevC = h.Counts[i]
		mid := ub
		if math.IsInf(ub, 1) {
			mid = lower
		} else {
			mid = (lower + ub) / 2
			lower = ub
		}
		ss += n * (mid - mean) * (mid - mean)
	}
	return seconds(math.Sqrt(ss / h.Count))
}

func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

func (h *Histogram) add(o Histogram) {
	if len(h.Bounds) == 0 {
		h.Bounds = append([]float64(nil), o.Bounds...)
		h.Counts = make([]float64, len(o.Counts))
	}
	if len(o.Bounds) != len(h.Bounds) {
		return
	}
	for i := range o.Counts {
		h.Counts[i] += o.Counts[i]
	}
	h.Sum += o.Sum
	h.Count += o.Count
}

func histogram(m *dto.Metric) Histogram {
	hg := m.GetHistogram()
	var h Histogram
	bs := hg.GetBucket()
	sort.Slice(bs, func(i, j int) bool { return bs[i].GetUpperBound() < bs[j].GetUpperBound() })
	for _, b := range bs {
		h.Bounds = append(h.Bounds, b.GetUpperBound())
		h.Counts = append(h.Counts, float64(b.GetCumulativeCount()))
	}
	if len(h.Bounds) == 0 || !math.IsInf(h.Bounds[len(h.Bounds)-1], 1) {
		h.Bounds = append(h.Bounds, math.Inf(1))
		h.Counts = append(h.Counts, float64(hg.GetSampleCount()))
	}
	h.Sum, h.Count = hg.GetSampleSum(), float64(hg.GetSampleCount())
	return h
}

// families are the metric families the adapter reads; a member's
// /metrics holds about 160 KB of others (gRPC, Go runtime, bolt), which
// are skipped line by line before the text is parsed.
var families = map[string]bool{
	"etcd_network_peer_round_trip_time_seconds": true,
	"etcd_disk_wal_fsync_duration_seconds":      true,
	"etcd_disk_backend_commit_duration_seconds": true,
	"etcd_server_leader_changes_seen_total":     true,
	"etcd_server_heartbeat_send_failures_total": true,
	"etcd_server_proposals_failed_total":        true,
	"etcd_server_proposals_pending":             true,
	"etcd_server_slow_apply_total":              true,
	"process_cpu_seconds_total":                 true,
	"process_start_time_seconds":                true,
	"etcd_server_is_leader":                     true,
	"etcd_server_has_leader":                    true,
}

// wanted says whether a line of the text format belongs to one of the
// families the adapter reads: a sample line (name, name_bucket, _sum or
// _count) or its # HELP and # TYPE lines. Other comments and blank
// lines are dropped.
func wanted(line []byte) bool {
	if len(line) > 0 && line[0] == '#' {
		f := bytes.Fields(line)
		return len(f) >= 3 && (string(f[1]) == "HELP" || string(f[1]) == "TYPE") && families[string(f[2])]
	}
	end := bytes.IndexAny(line, "{ \t")
	if end < 0 {
		end = len(line)
	}
	name := string(line[:end])
	if families[name] {
		return true
	}
	for _, suf := range []string{"_bucket", "_sum", "_count"} {
		if b, ok := strings.CutSuffix(name, suf); ok && families[b] {
			return true
		}
	}
	return false
}

// ParseMetrics reads an etcd member's /metrics text.
func ParseMetrics(text string, at time.Time) (Metrics, error) {
	return readMetrics(strings.NewReader(text), at)
}

// readMetrics reads the families the adapter uses from a /metrics text
// as it streams in, at most 16 MiB of it.
func readMetrics(r io.Reader, at time.Time) (Metrics, error) {
	m := Metrics{At: at, PeerRTTByPeer: map[string]Histogram{}}
	var kept bytes.Buffer
	sc := bufio.NewScanner(io.LimitReader(r, 16<<20))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if line := sc.Bytes(); wanted(line) {
			kept.Write(line)
			kept.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("etcd metrics: %w", err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(&kept)
	if err != nil {
		return m, fmt.Errorf("etcd metrics: %w", err)
	}
	if len(fams) == 0 {
		return m, fmt.Errorf("etcd metrics: no metric families")
	}
	if f := fams["etcd_network_peer_round_trip_time_seconds"]; f != nil {
		for _, mt := range f.GetMetric() {
			h := histogram(mt)
			to := ""
			for _, l := range mt.GetLabel() {
				if l.GetName() == "To" {
					to = l.GetValue()
				}
			}
			m.PeerRTTByPeer[to] = h
			m.PeerRTT.add(h)
		}
	}
	one := func(name string) *dto.Metric {
		if f := fams[name]; f != nil && len(f.GetMetric()) > 0 {
			return f.GetMetric()[0]
		}
		return nil
	}
	if mt := one("etcd_disk_wal_fsync_duration_seconds"); mt != nil {
		m.WALFsync = histogram(mt)
	}
	if mt := one("etcd_disk_backend_commit_duration_seconds"); mt != nil {
		m.BackendCommit = histogram(mt)
	}
	if mt := one("etcd_server_leader_changes_seen_total"); mt != nil {
		m.LeaderChanges = mt.GetCounter().GetValue()
	}
	if mt := one("etcd_server_heartbeat_send_failures_total"); mt != nil {
		m.HeartbeatFailures = mt.GetCounter().GetValue()
	}
	if mt := one("etcd_server_proposals_failed_total"); mt != nil {
		m.ProposalsFailed = mt.GetCounter().GetValue()
	}
	if mt := one("etcd_server_proposals_pending"); mt != nil {
		m.ProposalsPending = mt.GetGauge().GetValue()
	}
	if mt := one("etcd_server_slow_apply_total"); mt != nil {
		m.SlowApplies = mt.GetCounter().GetValue()
	}
	if mt := one("process_cpu_seconds_total"); mt != nil {
		m.ProcessCPU = seconds(mt.GetCounter().GetValue())
	}
	if mt := one("process_start_time_seconds"); mt != nil && mt.GetGauge().GetValue() > 0 {
		m.ProcessStart = time.Unix(0, int64(mt.GetGauge().GetValue()*1e9))
	}
	if mt := one("etcd_server_is_leader"); mt != nil {
		m.IsLeader = mt.GetGauge().GetValue() == 1
	}
	if mt := one("etcd_server_has_leader"); mt != nil {
		m.HasLeader = mt.GetGauge().GetValue() == 1
	}
	return m, nil
}
