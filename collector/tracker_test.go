package collector

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestTrackerScripts plays the event scripts of testdata/tracker/*.txt.
// A script block is
//
//	run [window=D] [rtt-size=N] [rtt-horizon=D] [peer-horizon=D] [peer-reports] [counts=retries,failures]
//	<event> key=value ...
//	...
//	----
//	<one line per sample event: its present fields>
//
// on a fresh Tracker. Times (t=, at=) are offsets from a fixed epoch.
// Regenerate the expected output with -rewrite and review the diff.
func TestTrackerScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/tracker", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "run" {
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
			}
			var cfg TrackerConfig
			for _, a := range d.CmdArgs {
				v := ""
				if len(a.Vals) > 0 {
					v = a.Vals[0]
				}
				var err error
				switch a.Key {
				case "window":
					cfg.ElectionWindow, err = time.ParseDuration(v)
				case "rtt-size":
					cfg.RTTSize, err = strconv.Atoi(v)
				case "rtt-horizon":
					cfg.RTTHorizon, err = time.ParseDuration(v)
				case "peer-horizon":
					cfg.PeerHorizon, err = time.ParseDuration(v)
				case "peer-reports":
					cfg.PeerReports = true
				case "counts":
					for _, c := range a.Vals {
						switch c {
						case "retries":
							cfg.Counts |= FieldRPCRetries
						case "failures":
							cfg.Counts |= FieldRPCFailures
						default:
							err = fmt.Errorf("unknown counter %q", c)
						}
					}
				default:
					err = fmt.Errorf("unknown argument")
				}
				if err != nil {
					t.Fatalf("%s: %s: %v", d.Pos, a.Key, err)
				}
			}
			tr := NewTracker(cfg)
			var out strings.Builder
			for i, line := range strings.Split(d.Input, "\n") {
				line = strings.TrimSpace(line)
				if line == "" || strings.HasPrefix(line, "#") {
					continue
				}
				res, err := step(tr, line)
				if err != nil {
					t.Fatalf("%s: line %d of the block: %q: %v", d.Pos, i+1, line, err)
				}
				out.WriteString(res)
			}
			return out.String()
		})
	})
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// step applies one script line to tr and returns what it prints.
func step(tr *Tracker, line string) (string, error) {
	f := strings.Fields(line)
	args := map[string]string{}
	for _, kv := range f[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return "", fmt.Errorf("%q is not key=value", kv)
		}
		args[k] = v
	}
	var err error
	dur := func(k string) time.Duration {
		v, ok := args[k]
		if !ok {
			err = fmt.Errorf("missing %s=", k)
			return 0
		}
		d, e := time.ParseDuration(v)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %v", k, e)
		}
		return d
	}
	at := func(k string) time.Time { return epoch.Add(dur(k)) }
	num := func(k string) uint64 {
		n, e := strconv.ParseUint(args[k], 10, 64)
		if e != nil && err == nil {
			err = fmt.Errorf("%s: %v", k, e)
		}
		return n
	}
	switch f[0] {
	case "restart":
		tr.Restart(at("t"))
	case "status":
		tr.Status(at("t"), ParseRole(args["role"]), num("term"), args["leader"])
	case "campaign":
		tr.Campaign(at("t"), num("term"))
	case "contact":
		tr.Contact(at("t"), args["leader"], num("term"))
	case "latest-contact":
		tr.LatestContact(at("at"), args["leader"], num("term"))
	case "elected":
		tr.Elected(at("t"), num("term"))
	case "timeout":
		tr.Timeout(dur("d"))
	case "rtt":
		held := time.Duration(0)
		if _, ok := args["held"]; ok {
			held = dur("held")
		}
		tr.RTT(at("t"), dur("rtt"), held)
	case "fail":
		tr.RPCFailed(at("t"), int(num("n")))
	case "retry":
		tr.Retry(at("t"), int(num("n")))
	case "replication":
		tr.Replication(num("commit"), num("have"))
	case "cpu":
		pct, e := strconv.ParseFloat(args["pct"], 64)
		if e != nil {
			return "", fmt.Errorf("pct: %v", e)
		}
		tr.CPUIdle(pct)
	case "peers":
		tr.Peers(strings.Split(args["ids"], ","))
	case "heard":
		tr.Heard(at("t"), args["peer"])
	case "peer-down":
		tr.PeerDown(args["peer"])
	case "peer-up":
		tr.PeerUp(args["peer"])
	case "sample":
		now := at("t")
		if err != nil {
			return "", err
		}
		return render(now, tr.Sample(now)), nil
	default:
		return "", fmt.Errorf("unknown event %q", f[0])
	}
	return "", err
}

// render prints the present fields of s, in a fixed order.
func render(now time.Time, s Sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "t=%s:", now.Sub(epoch))
	add := func(f Field, format string, a ...any) {
		if s.Has(f) {
			b.WriteByte(' ')
			fmt.Fprintf(&b, format, a...)
		}
	}
	add(FieldRole, "role=%s", s.Role)
	add(FieldTerm, "term=%d", s.Term)
	if s.Has(FieldLeader) && s.Leader != "" {
		fmt.Fprintf(&b, " leader=%s", s.Leader)
	}
	add(FieldLastContact, "contact=%s", s.LastContact)
	add(FieldHeartbeatGap, "gap=%s", s.HeartbeatGap)
	add(FieldElections, "elections=%d failed=%d", s.ElectionsInWindow, s.FailedElectionsInWindow)
	add(FieldLeaderStableFor, "stable=%s", s.LeaderStableFor)
	add(FieldReplicationGap, "behind=%d", s.ReplicationGap)
	add(FieldRPCRetries, "retries=%d", s.RPCRetries)
	add(FieldRPCFailures, "failures=%d", s.RPCFailures)
	add(FieldCPUIdle, "idle=%g%%", s.CPUIdlePct)
	add(FieldRTT, "rtt=%s/%s/%s", s.RTTMean, s.RTTStdDev, s.RTTP99)
	add(FieldUnreachableVoters, "unreachable=%d", s.UnreachableVoters)
	b.WriteByte('\n')
	return b.String()
}
