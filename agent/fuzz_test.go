package agent

import (
	"os"
	"testing"
)

// FuzzParseConfig: an agent configuration never panics the parser, and
// whatever it accepts is sane: a valid node, a tick the host accepts, a
// lease of at least two ticks and at most MaxLeaseTTL.
func FuzzParseConfig(f *testing.F) {
	if b, err := os.ReadFile("../configs/agent.hcl"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("node = \"n1\"\ntick = \"1ns\"\n"))
	f.Add([]byte("node = \"n1\"\nlease_ttl = \"1000h\"\nlisten { socket_mode = \"0660\" }\nlog { decisions = \"changes\" }\n"))
	f.Add([]byte("node = null\n"))
	f.Add([]byte("node = \"a\"\nhost {\n  kind = \"consul\"\n  live = true\n}\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := ParseConfig(src, "fuzz.hcl")
		if diags.HasErrors() {
			return
		}
		switch {
		case !validNode(cfg.Node):
			t.Fatalf("accepted node %q", cfg.Node)
		case cfg.Tick < MinTick || cfg.Tick > MaxTick:
			t.Fatalf("accepted tick %v", cfg.Tick)
		case cfg.LeaseTTL < 2*cfg.Tick || cfg.LeaseTTL > MaxLeaseTTL:
			t.Fatalf("accepted lease_ttl %v with tick %v", cfg.LeaseTTL, cfg.Tick)
		case cfg.Socket.Mode&0o002 != 0:
			t.Fatalf("accepted a world-writable socket mode %v", cfg.Socket.Mode)
		}
	})
}
