package policy

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
)

// TestDecideScripts runs the decision scripts in testdata/decide: a policy,
// then samples and proposals, each with the decision and every check that
// fired. Regenerate after a deliberate change with
//
//	go test ./policy -run DecideScripts -rewrite
//
// and review the diff: each changed line is a decision that changed.
//
// Commands:
//
//	policy [preset=NAME]     the input is HCL (empty: the preset, default "default")
//	decide now=D current=D calm=D <proposal> <sample>
//	                         one pure Decide
//	governor                 a fresh Governor over the policy
//	step now=D <proposal> <sample>
//	                         one Governor.Step; it remembers the value in force
//
// <proposal> is propose=D [heartbeat=D] [confidence=F]; <sample> is the
// input, key=value pairs separated by spaces or lines (see sampleKeys), on
// a calm follower base unless the first line is "empty". Times D are Go
// durations from a fixed epoch; at= is the sample's time (default now).
func TestDecideScripts(t *testing.T) {
	datadriven.Walk(t, "testdata/decide", func(t *testing.T, path string) {
		var (
			pol *Policy
			gov *Governor
		)
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			args := map[string]string{}
			for _, a := range d.CmdArgs {
				args[a.Key] = strings.Join(a.Vals, ",")
			}
			switch d.Cmd {
			case "policy":
				if strings.TrimSpace(d.Input) == "" {
					name := args["preset"]
					if name == "" {
						name = "default"
					}
					p, err := Preset(name)
					if err != nil {
						return "error: " + err.Error()
					}
					pol = p
				} else {
					p, ds := Parse([]byte(d.Input), "script.hcl")
					if ds.HasErrors() {
						return "error: " + configs.FormatDiagnostics(ds)
					}
					pol = p
				}
				gov = nil
				return fmt.Sprintf("ok: election [%s, %s], rtt_factor %g, heartbeat_factor %g, %d rules",
					pol.Bounds.ElectionMin, pol.Bounds.ElectionMax, pol.Bounds.RTTFactor, pol.Bounds.HeartbeatFactor, len(pol.Rules))
			case "governor":
				gov = NewGovernor(pol)
				return "ok"
			case "decide", "step":
				if pol == nil {
					t.Fatalf("%s: %s before policy", d.Pos, d.Cmd)
				}
				now := at(t, d, args, "now", 0)
				prop := model.Proposal{Timeout: at(t, d, args, "propose", 0), Heartbeat: at(t, d, args, "heartbeat", 0), Confidence: 1}
				if c, ok := args["confidence"]; ok {
					f, err := strconv.ParseFloat(c, 64)
					if err != nil {
						t.Fatalf("%s: confidence: %v", d.Pos, err)
					}
					prop.Confidence = f
				}
				s := scriptSample(t, d, now)
				var dec Decision
				if d.Cmd == "decide" {
					dec = pol.Decide(State{Sample: s, Now: epoch.Add(now), Current: at(t, d, args, "current", 0),
						Calm: at(t, d, args, "calm", 0)}, prop)
				} else {
					if gov == nil {
						t.Fatalf("%s: step before governor", d.Pos)
					}
					dec = gov.Step(epoch.Add(now), s, prop)
				}
				return render(&dec)
			default:
				t.Fatalf("%s: unknown command %q", d.Pos, d.Cmd)
				return ""
			}
		})
	})
}

var epoch = time.Unix(1_700_000_000, 0)

func at(t *testing.T, d *datadriven.TestData, args map[string]string, key string, def time.Duration) time.Duration {
	v, ok := args[key]
	if !ok {
		return def
	}
	dur, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s: %s: %v", d.Pos, key, err)
	}
	return dur
}

// render is the decision, its flags and its checks, one per line.
func render(d *Decision) string {
	var b strings.Builder
	b.WriteString(d.Explain())
	var flags []string
	if d.Unstable {
		flags = append(flags, "unstable")
	}
	if d.NoReference {
		flags = append(flags, "no reference")
	}
	if d.Heartbeat > 0 {
		flags = append(flags, "heartbeat "+d.Heartbeat.String())
	}
	if len(flags) > 0 {
		b.WriteString("\n  [" + strings.Join(flags, ", ") + "]")
	}
	return b.String() + "\n"
}

// sampleKeys sets one sample field each, with its presence bit; "drop"
// clears presence bits by field name (drop=rtt,host_timeouts).
var sampleKeys = map[string]func(s *collector.Sample, v string) error{
	"role": func(s *collector.Sample, v string) error {
		s.Role = collector.ParseRole(v)
		s.Set(collector.FieldRole)
		return nil
	},
	"term":         uintField(collector.FieldTerm, func(s *collector.Sample) *uint64 { return &s.Term }),
	"leader":       func(s *collector.Sample, v string) error { s.Leader = v; s.Set(collector.FieldLeader); return nil },
	"cluster_size": intField(collector.FieldClusterSize, func(s *collector.Sample) *int { return &s.ClusterSize }),
	"prevote": func(s *collector.Sample, v string) error {
		s.PreVote = v == "true"
		s.Set(collector.FieldPreVote)
		return nil
	},
	"last_contact":       durField(collector.FieldLastContact, func(s *collector.Sample) *time.Duration { return &s.LastContact }),
	"heartbeat_gap":      durField(collector.FieldHeartbeatGap, func(s *collector.Sample) *time.Duration { return &s.HeartbeatGap }),
	"replication_gap":    uintField(collector.FieldReplicationGap, func(s *collector.Sample) *uint64 { return &s.ReplicationGap }),
	"rpc_retries":        intField(collector.FieldRPCRetries, func(s *collector.Sample) *int { return &s.RPCRetries }),
	"rpc_failures":       intField(collector.FieldRPCFailures, func(s *collector.Sample) *int { return &s.RPCFailures }),
	"rtt_mean":           durField(collector.FieldRTT, func(s *collector.Sample) *time.Duration { return &s.RTTMean }),
	"rtt_stddev":         durField(collector.FieldRTT, func(s *collector.Sample) *time.Duration { return &s.RTTStdDev }),
	"rtt_p99":            durField(collector.FieldRTT, func(s *collector.Sample) *time.Duration { return &s.RTTP99 }),
	"elections":          intField(collector.FieldElections, func(s *collector.Sample) *int { return &s.ElectionsInWindow }),
	"failed_elections":   intField(collector.FieldElections, func(s *collector.Sample) *int { return &s.FailedElectionsInWindow }),
	"leader_stable_for":  durField(collector.FieldLeaderStableFor, func(s *collector.Sample) *time.Duration { return &s.LeaderStableFor }),
	"unreachable_voters": intField(collector.FieldUnreachableVoters, func(s *collector.Sample) *int { return &s.UnreachableVoters }),
	"heartbeat_timeout":  durField(collector.FieldHostTimeouts, func(s *collector.Sample) *time.Duration { return &s.HeartbeatTimeout }),
	"election_timeout":   durField(collector.FieldHostTimeouts, func(s *collector.Sample) *time.Duration { return &s.ElectionTimeout }),
	"lease":              durField(collector.FieldHostTimeouts, func(s *collector.Sample) *time.Duration { return &s.LeaderLeaseTimeout }),
	"heartbeat_interval": durField(collector.FieldHostTimeouts, func(s *collector.Sample) *time.Duration { return &s.HeartbeatInterval }),
	"disk_sync_p99":      durField(collector.FieldDiskSync, func(s *collector.Sample) *time.Duration { return &s.DiskSyncP99 }),
	"cpu_idle": func(s *collector.Sample, v string) error {
		f, err := strconv.ParseFloat(v, 64)
		s.CPUIdlePct = f
		s.Set(collector.FieldCPUIdle)
		return err
	},
}

func durField(f collector.Field, p func(*collector.Sample) *time.Duration) func(*collector.Sample, string) error {
	return func(s *collector.Sample, v string) error {
		d, err := time.ParseDuration(v)
		*p(s) = d
		s.Set(f)
		return err
	}
}

func intField(f collector.Field, p func(*collector.Sample) *int) func(*collector.Sample, string) error {
	return func(s *collector.Sample, v string) error {
		n, err := strconv.Atoi(v)
		*p(s) = n
		s.Set(f)
		return err
	}
}

func uintField(f collector.Field, p func(*collector.Sample) *uint64) func(*collector.Sample, string) error {
	return func(s *collector.Sample, v string) error {
		n, err := strconv.ParseUint(v, 10, 64)
		*p(s) = n
		s.Set(f)
		return err
	}
}

// scriptSample builds the sample of a decide or step command: a calm
// follower (see calmSample) taken at now, changed by the input's pairs.
func scriptSample(t *testing.T, d *datadriven.TestData, now time.Duration) collector.Sample {
	s := calmSample()
	s.At = epoch.Add(now)
	fields := strings.Fields(d.Input)
	if len(fields) > 0 && fields[0] == "empty" {
		s = collector.Sample{Node: "n1", At: epoch.Add(now)}
		fields = fields[1:]
	}
	for _, kv := range fields {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("%s: %q is not key=value", d.Pos, kv)
		}
		switch k {
		case "at":
			dur, err := time.ParseDuration(v)
			if err != nil {
				t.Fatalf("%s: at: %v", d.Pos, err)
			}
			s.At = epoch.Add(dur)
			continue
		case "drop":
			for _, name := range strings.Split(v, ",") {
				f, ok := fieldByName(name)
				if !ok {
					t.Fatalf("%s: drop: unknown field %q", d.Pos, name)
				}
				s.Present &^= f
			}
			continue
		}
		set, ok := sampleKeys[k]
		if !ok {
			t.Fatalf("%s: unknown sample key %q", d.Pos, k)
		}
		if err := set(&s, v); err != nil {
			t.Fatalf("%s: %s: %v", d.Pos, k, err)
		}
	}
	return s
}

func fieldByName(name string) (collector.Field, bool) {
	for f := collector.Field(1); f <= collector.AllFields; f <<= 1 {
		if f.String() == name {
			return f, true
		}
	}
	return 0, false
}
