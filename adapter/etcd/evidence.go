package etcd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// Reading is every voting member's /metrics read at about one time.
type Reading struct {
	At       time.Time
	ByMember map[uint64]Metrics
	// Missing names the members that could not be read.
	Missing []string
}

// ReadCluster reads the /metrics of every voting member of the cluster
// cli is connected to (through each member's first client URL).
func ReadCluster(ctx context.Context, cli *clientv3.Client, hc *http.Client, now time.Time) (Reading, error) {
	ml, err := cli.MemberList(ctx)
	if err != nil {
		return Reading{}, fmt.Errorf("etcd member list: %w", err)
	}
	rd := Reading{At: now, ByMember: map[uint64]Metrics{}}
	for _, m := range ml.Members {
		if m.IsLearner || len(m.ClientURLs) == 0 {
			continue
		}
		mt, err := scrapeURL(ctx, hc, strings.TrimRight(m.ClientURLs[0], "/")+"/metrics", now)
		if err != nil {
			rd.Missing = append(rd.Missing, fmt.Sprintf("%s (%v)", m.Name, err))
			continue
		}
		rd.ByMember[m.ID] = mt
	}
	if len(rd.ByMember) == 0 {
		return rd, fmt.Errorf("no member's metrics could be read: %s", strings.Join(rd.Missing, ", "))
	}
	return rd, nil
}

func scrapeURL(ctx context.Context, hc *http.Client, url string, now time.Time) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Metrics{}, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Metrics{}, fmt.Errorf("etcd metrics %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return Metrics{}, fmt.Errorf("etcd metrics %s: %s", url, resp.Status)
	}
	m, err := readMetrics(resp.Body, now)
	// Drain what is left so the connection is reused.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return m, err
}

// restarted says whether a member's counters began again between old and
// cur (it restarted, or its figures went backwards).
func restarted(old, cur Metrics) bool {
	if !old.ProcessStart.IsZero() && !cur.ProcessStart.Equal(old.ProcessStart) {
		return true
	}
	return cur.LeaderChanges < old.LeaderChanges || cur.WALFsync.Count < old.WALFsync.Count
}

// EvidenceOf merges the members' figures in latest. A member whose
// process started within horizon of latest counts since its start (so a
// one-shot reading and a running agent agree); an older one counts since
// its reading in base, the agent's oldest inside the horizon, when there
// is one.
func EvidenceOf(base *Reading, latest Reading, horizon time.Duration) Evidence {
	ev := Evidence{Members: len(latest.ByMember)}
	first := true
	for id, cur := range latest.ByMember {
		var span time.Duration
		var old *Metrics
		if base != nil && (cur.ProcessStart.IsZero() || latest.At.Sub(cur.ProcessStart) > horizon) {
			if o, ok := base.ByMember[id]; ok && !restarted(o, cur) {
				old = &o
				span = latest.At.Sub(base.At)
			}
		}
		if old == nil && !cur.ProcessStart.IsZero() {
			span = latest.At.Sub(cur.ProcessStart)
		}
		if first || span < ev.Span {
			ev.Span = span
		}
		first = false
		var d Metrics
		if old != nil {
			d = delta(*old, cur)
		} else {
			d = cur
			d.LeaderChanges = max(0, cur.LeaderChanges-1) // its first leader is no change
		}
		ev.PeerRTT.add(d.PeerRTT)
		ev.WALFsync.add(d.WALFsync)
		for _, h := range d.PeerRTTByPeer {
			if p, ok := h.Quantile(0.99); ok && p > ev.WorstPeerP99 {
				ev.WorstPeerP99 = p
			}
		}
		ev.LeaderChanges = max(ev.LeaderChanges, int(d.LeaderChanges))
		ev.HeartbeatFailures += d.HeartbeatFailures
		ev.SlowApplies += d.SlowApplies
	}
	return ev
}

// delta is cur − old for the figures evidence uses.
func delta(old, cur Metrics) Metrics {
	d := Metrics{At: cur.At, PeerRTT: cur.PeerRTT.Sub(old.PeerRTT), WALFsync: cur.WALFsync.Sub(old.WALFsync),
		PeerRTTByPeer:     map[string]Histogram{},
		LeaderChanges:     max(0, cur.LeaderChanges-old.LeaderChanges),
		HeartbeatFailures: max(0, cur.HeartbeatFailures-old.HeartbeatFailures),
		SlowApplies:       max(0, cur.SlowApplies-old.SlowApplies),
		ProcessCPU:        max(0, cur.ProcessCPU-old.ProcessCPU)}
	for to, h := range cur.PeerRTTByPeer {
		d.PeerRTTByPeer[to] = h.Sub(old.PeerRTTByPeer[to])
	}
	return d
}

// stallBetween is the interval between two consecutive readings, when
// it saw a leader change.
func stallBetween(prev, cur Reading) (Stall, bool) {
	st := Stall{At: cur.At}
	for id, c := range cur.ByMember {
		o, ok := prev.ByMember[id]
		if !ok || restarted(o, c) {
			continue
		}
		d := delta(o, c)
		st.LeaderChanges = max(st.LeaderChanges, int(d.LeaderChanges))
		var rtt time.Duration
		for _, h := range d.PeerRTTByPeer {
			if p, ok := h.Quantile(0.99); ok {
				rtt = max(rtt, p)
			}
		}
		f, _ := d.WALFsync.Quantile(0.99)
		st.Delay = max(st.Delay, rtt+f)
	}
	return st, st.LeaderChanges > 0
}

// evidenceLog is a running agent's record of readings: a few spread over
// the horizon (the base of the evidence) and the intervals that saw leader
// changes.
type evidenceLog struct {
	horizon  time.Duration
	readings []Reading // oldest first, spaced at least horizon/64 apart
	last     *Reading
	stalls   []Stall
}

func (l *evidenceLog) add(rd Reading) Evidence {
	if l.last != nil {
		if st, ok := stallBetween(*l.last, rd); ok {
			l.stalls = append(l.stalls, st)
		}
	}
	l.last = &rd
	if n := len(l.readings); n == 0 || rd.At.Sub(l.readings[n-1].At) >= l.horizon/64 {
		l.readings = append(l.readings, rd)
	}
	// Keep the oldest reading inside the horizon.
	for len(l.readings) > 1 && rd.At.Sub(l.readings[1].At) >= l.horizon {
		l.readings = l.readings[1:]
	}
	for len(l.stalls) > 0 && rd.At.Sub(l.stalls[0].At) > l.horizon {
		l.stalls = l.stalls[1:]
	}
	var base *Reading
	for i := range l.readings {
		if b := &l.readings[i]; rd.At.Sub(b.At) <= l.horizon && rd.At.After(b.At) {
			base = b
			break
		}
	}
	ev := EvidenceOf(base, rd, l.horizon)
	ev.Stalls = append([]Stall(nil), l.stalls...)
	return ev
}

// AdviseOnce reads every member of the cluster at endpoint once and gives
// the advice a running agent would (without its per-interval record of
// leader changes): `ns-agent advise`.
func AdviseOnce(ctx context.Context, endpoint string, tc *tls.Config, now time.Time, flags Flags, c AdviceConfig) (Recommendation, Reading, error) {
	if strings.HasPrefix(endpoint, "https://") && tc == nil {
		return Recommendation{}, Reading{}, errors.New("https endpoint without TLS configuration")
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{endpoint}, DialTimeout: 5 * time.Second, TLS: tc, Logger: zap.NewNop()})
	if err != nil {
		return Recommendation{}, Reading{}, err
	}
	defer cli.Close()
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: tc, DisableCompression: true}}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	rd, err := ReadCluster(rctx, cli, hc, now)
	if err != nil {
		return Recommendation{}, rd, fmt.Errorf("%s: %w", endpoint, err)
	}
	if len(rd.Missing) > 0 {
		// As a running agent, advise only from every member.
		return Recommendation{}, rd, fmt.Errorf("advice rests on every member; not read: %s", strings.Join(rd.Missing, ", "))
	}
	a := NewAdviser(flags, c)
	a.Update(now, EvidenceOf(nil, rd, a.cfg.Horizon))
	return a.Current(), rd, nil
}
