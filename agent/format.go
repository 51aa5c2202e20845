package agent

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nsraft/nsraft/adapter/etcd"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

// SocketGlobs are where agents' unix sockets are looked for: the default
// listen.grpc of a configuration without one, and the systemd and
// Kubernetes examples' runtime directories.
func SocketGlobs() []string {
	return []string{filepath.Join(DefaultSocketDir(), "*.sock"), "/run/ns-agent/*.sock", "/var/run/ns-agent/*.sock"}
}

// ClientTLS builds the client side of an agent's TLS listener: the CA
// file that signs the agent's certificate (empty: the system's roots),
// the client's own certificate and key for agents that require one (both
// or neither), and the name the agent's certificate must carry (empty:
// the address's host).
func ClientTLS(caFile, certFile, keyFile, serverName string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: serverName}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	if (certFile == "") != (keyFile == "") {
		return nil, errors.New("a client certificate and its key go together")
	}
	if certFile != "" {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, err
		}
		tc.Certificates = []tls.Certificate{c}
	}
	return tc, nil
}

const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
)

// FormatDecision renders one decision as a line: time, node, role and
// term, what was observed, what was proposed, what was decided (with ▲/▼
// when it moved) and the rules that moved or held it; color adds ANSI
// colours.
func FormatDecision(ev *nsraftv1.DecisionEvent, color bool) string {
	c := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	s := ev.GetSample()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-4s %-9s t%-3d", c(ansiDim, time.Unix(0, ev.AtUnixNano).Format("15:04:05.000")), ev.Node, s.GetRole(), s.GetTerm())
	if s != nil && s.HeartbeatGapNs != nil { // an event may carry no sample
		fmt.Fprintf(&b, " gap %-7s", shortDuration(s.GetHeartbeatGapNs()))
	} else {
		b.WriteString(" gap -      ")
	}
	if s.GetRtt() != nil {
		fmt.Fprintf(&b, " rtt99 %-7s", shortDuration(s.Rtt.P99Ns))
	} else {
		b.WriteString(" rtt99 -      ")
	}
	fmt.Fprintf(&b, " %s %s (%.2f)", ev.Recommender, shortDuration(ev.ProposalNs), ev.Confidence)
	decided := shortDuration(ev.DecisionNs)
	switch {
	case ev.PreviousNs == 0 || ev.DecisionNs == ev.PreviousNs:
		fmt.Fprintf(&b, " → %s", c(ansiBold, decided))
	case ev.DecisionNs > ev.PreviousNs:
		fmt.Fprintf(&b, " → %s", c(ansiYellow, decided+" ▲"+shortDuration(ev.DecisionNs-ev.PreviousNs)))
	default:
		fmt.Fprintf(&b, " → %s", c(ansiGreen, decided+" ▼"+shortDuration(ev.PreviousNs-ev.DecisionNs)))
	}
	fmt.Fprintf(&b, " [%s..%s]", shortDuration(ev.MinNs), shortDuration(ev.MaxNs))
	var hits []string
	for _, ch := range ev.Checks {
		if ch.Effect == "changed" || ch.Effect == "held" {
			hits = append(hits, ch.Name+" @"+ch.Pos)
		}
	}
	if len(hits) > 0 {
		b.WriteString(" " + c(ansiCyan, strings.Join(hits, ", ")))
	}
	switch {
	case ev.Error != "":
		b.WriteString(" " + c(ansiRed, "not applied: "+ev.Error))
	case !ev.Live:
		b.WriteString(" advisory")
	}
	return b.String()
}

// shortDuration renders nanoseconds compactly: 412ms, 1.2s, 850µs.
func shortDuration(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

// AdviceReport renders an etcd advice and the reading behind it, as
// `ns-agent advise` prints them: the advice, then one line per member (in
// member ID order) with its uptime, leadership, peer round-trip and WAL
// fsync p99, leader changes seen and process CPU, then the endpoints not
// read.
func AdviceReport(rec etcd.Recommendation, rd etcd.Reading) string {
	var b strings.Builder
	fmt.Fprintln(&b, rec.Text())
	ids := make([]uint64, 0, len(rd.ByMember))
	for id := range rd.ByMember {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		m := rd.ByMember[id]
		p99, _ := m.PeerRTT.Quantile(0.99)
		f99, _ := m.WALFsync.Quantile(0.99)
		up := "unknown"
		if !m.ProcessStart.IsZero() {
			up = rd.At.Sub(m.ProcessStart).Round(time.Second).String()
		}
		fmt.Fprintf(&b, "  member %s: up %s, leader %v, peer round-trip p99 %s, WAL fsync p99 %s, leader changes seen %.0f, process CPU %s\n",
			strconv.FormatUint(id, 16), up, m.IsLeader, p99.Round(100*time.Microsecond), f99.Round(100*time.Microsecond), m.LeaderChanges, m.ProcessCPU.Round(10*time.Millisecond))
	}
	for _, m := range rd.Missing {
		fmt.Fprintf(&b, "  not read: %s\n", m)
	}
	return b.String()
}
