package collector

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestParseProcStatCaptured(t *testing.T) {
	open := func(name string) CPUTimes {
		f, err := os.Open(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		c, err := ParseProcStat(f)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := open("proc_stat_1"), open("proc_stat_2")
	// Captured one second apart with one core busy: user +100, system +1,
	// idle +140 ticks.
	pct, ok := IdlePct(a, b)
	if !ok || math.Abs(pct-100*140.0/241) > 1e-9 {
		t.Fatalf("idle %v%% (ok %v), want %v%%", pct, ok, 100*140.0/241)
	}
	if _, ok := IdlePct(b, a); ok {
		t.Fatal("counters going backwards gave a value")
	}
	if _, ok := IdlePct(a, a); ok {
		t.Fatal("no elapsed time gave a value")
	}
}

func TestParseProcStatErrors(t *testing.T) {
	for _, name := range []string{"proc_stat_bad", "proc_stat_nocpu"} {
		f, _ := os.Open(filepath.Join("testdata", name))
		_, err := ParseProcStat(f)
		f.Close()
		if !errors.Is(err, ErrProcStat) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestCPUReadsTwice(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "stat")
	c := &CPU{Path: p}
	if _, _, err := c.IdlePct(); err == nil {
		t.Fatal("missing file read")
	}
	for i, name := range []string{"proc_stat_1", "proc_stat_2"} {
		b, _ := os.ReadFile(filepath.Join("testdata", name))
		os.WriteFile(p, b, 0o644)
		pct, ok, err := c.IdlePct()
		if err != nil || ok != (i == 1) || (ok && (pct < 50 || pct > 60)) {
			t.Fatalf("read %d: %v %v %v", i, pct, ok, err)
		}
	}
}
