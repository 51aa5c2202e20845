package agent

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/nsraft/nsraft/collector"
	"github.com/nsraft/nsraft/model"
)

// TestRecordLogCutsTornRecordOnOpen: a log that ends mid-record (a crash,
// a full disk) is repaired on open, so the next record starts a line of
// its own instead of gluing onto the torn one.
func TestRecordLogCutsTornRecordOnOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	os.WriteFile(path, []byte("{\"a\":1}\n{\"b\":2}\n{\"c\":"), 0o600)
	l, repaired, err := OpenRecordLog(path, 1<<20, 1, LogHooks{})
	if err != nil {
		t.Fatal(err)
	}
	if repaired != 5 {
		t.Fatalf("repaired %d bytes, want 5", repaired)
	}
	l.Write([]byte("{\"d\":4}\n"))
	l.Close()
	if b, _ := os.ReadFile(path); string(b) != "{\"a\":1}\n{\"b\":2}\n{\"d\":4}\n" {
		t.Fatalf("log after repair and one record: %q", b)
	}
}

// TestRecordLogFullDisk: a short write leaves nothing of the record, is
// reported, and the log recovers when the disk does.
func TestRecordLogFullDisk(t *testing.T) {
	path := filepath.Join(t.TempDir(), "d.jsonl")
	var failed, recovered int
	l, _, err := OpenRecordLog(path, 1<<20, 1, LogHooks{Failed: func(error) { failed++ }, Recovered: func() { recovered++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("{\"a\":1}\n"))
	full := true
	l.writeFile = func(f *os.File, p []byte) (int, error) {
		if full {
			n, _ := f.Write(p[:len(p)/2])
			return n, syscall.ENOSPC
		}
		return f.Write(p)
	}
	if _, err := l.Write([]byte("{\"torn\":true}\n")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("short write: %v", err)
	}
	if l.Healthy() || failed != 1 {
		t.Fatalf("healthy %v after a failed write, %d failures reported", l.Healthy(), failed)
	}
	full = false
	l.Write([]byte("{\"b\":2}\n"))
	if !l.Healthy() || recovered != 1 {
		t.Fatalf("healthy %v after a good write, %d recoveries reported", l.Healthy(), recovered)
	}
	if b, _ := os.ReadFile(path); string(b) != "{\"a\":1}\n{\"b\":2}\n" {
		t.Fatalf("log holds part of a failed record: %q", b)
	}
}

// TestLogFailureMakesAgentUnready: while the decision log cannot be
// written, /readyz says so, the failure is counted and stderr says it;
// a copy of the decisions on stderr keeps flowing.
func TestLogFailureMakesAgentUnready(t *testing.T) {
	dir := t.TempDir()
	src := "node = \"f\"\nrecommender = \"static\"\nlisten {\n  grpc = \"unix://" + filepath.Join(dir, "a.sock") +
		"\"\n  http = \"127.0.0.1:0\"\n}\nlog {\n  file = \"d.jsonl\"\n  stderr = true\n}\n"
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o600)
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	var stderr syncBuf
	d, err := Start(cfg, &stderr)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	ready := func() int {
		resp, err := http.Get("http://" + d.HTTPAddr() + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := ready(); code != 200 {
		t.Fatalf("/readyz %d before any failure", code)
	}
	d.logFile.mu.Lock()
	d.logFile.writeFile = func(*os.File, []byte) (int, error) { return 0, syscall.ENOSPC }
	d.logFile.mu.Unlock()
	a := d.Agent
	r := a.Decide(calmHostSample(), false)
	a.Finish(r, false, nil)
	if code := ready(); code != http.StatusServiceUnavailable {
		t.Fatalf("/readyz %d while the log fails", code)
	}
	if got := counterValue(t, a.Metrics(), "ns_agent_log_write_errors_total"); got != 1 {
		t.Fatalf("ns_agent_log_write_errors_total %v", got)
	}
	out := stderr.String()
	if !strings.Contains(out, "the decision log cannot be written") || strings.Count(out, `"@message":"decision"`) != 1 {
		t.Fatalf("stderr must say the log fails and still carry the decision:\n%s", out)
	}
}

// TestLogDirectoryUnwritableIsAnError: the agent does not start "ready"
// writing nothing anywhere.
func TestLogDirectoryUnwritableIsAnError(t *testing.T) {
	if os.Getuid() == 0 {
		t.Skip("root writes anywhere")
	}
	dir := t.TempDir()
	logDir := filepath.Join(dir, "logs")
	os.Mkdir(logDir, 0o500)
	src := "node = \"f\"\nlisten { grpc = \"unix://" + filepath.Join(dir, "a.sock") + "\" }\nlog { file = \"logs/d.jsonl\" }\n"
	os.WriteFile(filepath.Join(dir, "agent.hcl"), []byte(src), 0o600)
	cfg, diags := LoadConfig(filepath.Join(dir, "agent.hcl"))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	d, err := Start(cfg, io.Discard)
	if err == nil {
		d.Close()
		t.Fatal("started with an unwritable log directory")
	}
	if !strings.Contains(err.Error(), "log.file") || !errors.Is(err, os.ErrPermission) {
		t.Fatalf("error %v", err)
	}
}

func calmHostSample() collector.Sample {
	s := collector.Sample{At: time.Now(), Node: "f"}
	s.Set(collector.FieldHostTimeouts)
	s.HeartbeatTimeout = time.Second
	return s
}

// TestNonFiniteTelemetryIsLogged: the JSON encoder dropped the whole
// record of a sample with NaN or ±Inf CPU telemetry.
func TestNonFiniteTelemetryIsLogged(t *testing.T) {
	var out syncBuf
	a := New(Config{Node: "f", Recommender: model.Static{T: time.Second}, Log: hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true})})
	for _, v := range []float64{math.NaN(), math.Inf(1), math.Inf(-1)} {
		s := calmHostSample()
		s.Set(collector.FieldCPUIdle)
		s.CPUIdlePct = v
		a.Finish(a.Decide(s, false), false, nil)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("%d records for 3 decisions:\n%s", len(lines), out.String())
	}
	for i, want := range []string{`"cpu_idle_pct":"NaN"`, `"cpu_idle_pct":"+Inf"`, `"cpu_idle_pct":"-Inf"`} {
		if !strings.Contains(lines[i], want) || !json.Valid([]byte(lines[i])) {
			t.Fatalf("record %d: %s, want %s", i, lines[i], want)
		}
	}
}

// TestLogChangesOnly: with LogChanges a run of equal decisions is one
// record.
func TestLogChangesOnly(t *testing.T) {
	var out syncBuf
	a := New(Config{Node: "f", Recommender: model.Static{T: time.Second}, LogChanges: true,
		Log: hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true})})
	for i := 0; i < 10; i++ {
		a.Finish(a.Decide(calmHostSample(), false), false, nil)
	}
	if n := strings.Count(out.String(), `"@message":"decision"`); n != 1 {
		t.Fatalf("%d records of 10 equal decisions, want 1", n)
	}
}
