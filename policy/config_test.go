package policy

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// The embedded default policy is the one source of defaults: a file that
// sets nothing gets its bounds, host kind and stability, and DefaultBounds
// returns the same bounds.
func TestDefaultsComeFromTheEmbeddedFile(t *testing.T) {
	def := Default()
	empty, diags := Parse([]byte("name = \"empty\"\n"), "empty.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if empty.Bounds != def.Bounds || DefaultBounds() != def.Bounds {
		t.Fatalf("bounds differ:\n empty   %+v\n default %+v\n DefaultBounds %+v", empty.Bounds, def.Bounds, DefaultBounds())
	}
	if empty.Host.Kind != def.Host.Kind || empty.Stability != def.Stability {
		t.Fatalf("host %v / %v, stability %+v / %+v", empty.Host.Kind, def.Host.Kind, empty.Stability, def.Stability)
	}
	// A file that sets one bound keeps the default's others.
	one, diags := Parse([]byte("bounds {\n  election_max = \"7s\"\n}\n"), "one.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := def.Bounds
	want.ElectionMax = 7 * time.Second
	if one.Bounds != want {
		t.Fatalf("got %+v, want %+v", one.Bounds, want)
	}
}

// Every constructor validates, and Validate checks policies built or
// changed in Go: each problem is a *ValidationError naming the field and
// both offending values.
func TestValidate(t *testing.T) {
	for _, name := range Presets() {
		p, err := Preset(name)
		if err != nil {
			t.Fatalf("preset %s: %v", name, err)
		}
		if err := p.Validate(); err != nil {
			t.Fatalf("preset %s: %v", name, err)
		}
	}
	for _, tc := range []struct {
		change func(*Policy)
		field  string
		says   string
	}{
		{func(p *Policy) { p.Bounds.ElectionMin = 10 * time.Second }, "election_min", "election_min (10s) is above election_max (5s)"},
		{func(p *Policy) { p.Bounds.HeartbeatMax = 0 }, "heartbeat_max", "heartbeat_max must be positive"},
		{func(p *Policy) { p.Bounds.StepDown = math.NaN() }, "step_down", "step_down must be within [0, 0.99], got NaN"},
		{func(p *Policy) { p.Bounds.RTTFactor = -1 }, "rtt_factor", "rtt_factor must be within [0, 1000], got -1"},
		{func(p *Policy) { p.Bounds.ElectionMin = time.Millisecond }, "election_min", "below hashicorp/raft's hard limit of 5ms"},
		{func(p *Policy) { p.Host.LeaderLeaseTimeout = 6 * time.Second }, "election_max", "election_max 5s is below the leader lease timeout 6s"},
		{func(p *Policy) { p.Host.Kind = "zookeeper" }, "kind", `unknown host kind "zookeeper"; want hashicorp, consul, etcd or etcd-raft`},
		{func(p *Policy) { p.Stability.MaxElections = -1 }, "max_elections", "must not be negative"},
		{func(p *Policy) { p.Rules = append(p.Rules, Rule{Name: "mine", Action: ActionHold}) }, "rule", `rule "mine" was not built by Parse`},
	} {
		p := Default()
		tc.change(p)
		err := p.Validate()
		var ve *ValidationError
		if !errors.As(err, &ve) {
			t.Fatalf("%s: %v is no *ValidationError", tc.field, err)
		}
		if ve.Field != tc.field || !strings.Contains(ve.Msg, tc.says) || ve.Pos.File != "configs/policies/default.hcl" {
			t.Errorf("got %+v (%v), want field %s saying %q", ve, err, tc.field, tc.says)
		}
	}
	// A policy built from nothing in Go has no positions and many problems.
	err := (&Policy{}).Validate()
	if err == nil || !strings.Contains(err.Error(), "election_min must be positive") || strings.Contains(err.Error(), ".hcl") {
		t.Fatalf("zero policy: %v", err)
	}
}

// The host kinds are one list: each is valid, a fresh slice is returned,
// and the zero kind is not a kind.
func TestHostKinds(t *testing.T) {
	ks := HostKinds()
	for _, k := range ks {
		if !k.Valid() {
			t.Errorf("%s is not valid", k)
		}
	}
	ks[0] = "changed"
	if HostKinds()[0] != HostHashicorp {
		t.Fatal("HostKinds shares its slice")
	}
	if HostKind("").Valid() || HostKind("Hashicorp").Valid() {
		t.Fatal("invalid kinds accepted")
	}
	if !HostConsul.HashicorpFamily() || HostEtcd.HashicorpFamily() {
		t.Fatal("hashicorp family")
	}
}
