package refcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/collector"
)

// soakPolicy is the policy every soak agent runs: tight steps so that a
// step past them shows, and a minimum at the nodes' 500ms leader lease.
const soakPolicy = `name = "soak"
bounds {
  election_min     = "500ms"
  election_max     = "3s"
  heartbeat_min    = "10ms"
  heartbeat_max    = "1s"
  rtt_factor       = 1
  heartbeat_factor = 1.1
  step_up          = 0.5
  step_down        = 0.25
  calm_for         = "300ms"
  stale_after      = "5s"
}
host {
  kind = "hashicorp"
}
stability {
  max_elections = 1
}
`

// The soak policy's figures the checks use.
const (
	soakMinMS, soakMaxMS     = 500.0, 3000.0
	soakStepUp, soakStepDown = 0.5, 0.25
)

// brokenPolicies are what an operator's bad day writes over the policy
// before a SIGHUP; the agent must refuse each and keep the one in force.
var brokenPolicies = map[string]string{
	"100,000 nested parentheses": "name = \"deep\"\nx = " + strings.Repeat("(", 100000) + "1" + strings.Repeat(")", 100000) + "\n",
	"a 3 MB comment":             "# " + strings.Repeat("x", 3<<20) + "\n",
	"min above max":              strings.Replace(soakPolicy, `election_min     = "500ms"`, `election_min     = "10s"`, 1),
	"a syntax error":             soakPolicy[:len(soakPolicy)/2],
	"binary garbage":             "\x00\xff\xfe\x01NSRAFT\x00{{{",
}

// brokenConfigs are bad agent configurations, %s being the agent's node.
var brokenConfigs = map[string]string{
	"tick of 1ns":       "node = %q\ntick = \"1ns\"\n",
	"a lease of 1000h":  "node = %q\nlease_ttl = \"1000h\"\n",
	"an unclosed block": "node = %q\nlisten {\n",
	"an unknown field":  "node = %q\nfrobnicate = true\n",
}

// faultLog records what the soak did, when (since the workload began).
type faultLog struct {
	mu     sync.Mutex
	start  time.Time
	events []soakEvent
	counts map[string]int
}

type soakEvent struct {
	from, to time.Duration
	node     bool // a node fault, which may cause elections
	what     string
}

func (f *faultLog) add(kind, what string, node bool, from time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, soakEvent{from: from.Sub(f.start), to: time.Since(f.start), node: node, what: what})
	f.counts[kind]++
}

// hostileStats counts what the hostile client tried and how the agents
// answered.
type hostileStats struct {
	mu     sync.Mutex
	counts map[string]int
}

func (h *hostileStats) inc(k string) {
	h.mu.Lock()
	h.counts[k]++
	h.mu.Unlock()
}

func (h *hostileStats) get(k string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.counts[k]
}

// TestSoak runs a live three-node cluster (hashicorp/raft + raft-boltdb
// node processes, each steered by its own `ns-agent run` process) under a
// checked workload for NSRAFT_SOAK (a duration, e.g. 3m; unset skips the
// test), while agents are SIGKILLed and restarted, SIGSTOPped and resumed,
// and SIGHUPped with broken policies and configurations; the leader node
// is SIGKILLed and restarted twice; and a hostile client works on every
// agent's socket all along (session hijacks, oversized and malformed
// messages, raw garbage, stalled Watch streams and dashboard pages, lying
// telemetry). NSRAFT_SOAK_SEED picks the fault schedule (default 1).
//
// It asserts: no election but those the node faults caused (or that
// followed a leader's own step-down for want of a quorum within its fixed
// lease, which only a starved machine causes on loopback); every node's
// timeout always within the policy's bounds; every decision-log line
// parseable, every decision within the bounds and no step past step_up or
// step_down from the value the host said it had in force (past step_up
// only where a safety floor raised it); every broken reload refused with
// the agent still running; hijacks of a host's session, oversized
// messages and overlong names refused; every agent ready at the end; the
// history linearizable (porcupine).
func TestSoak(t *testing.T) {
	length := os.Getenv("NSRAFT_SOAK")
	if length == "" {
		t.Skip("set NSRAFT_SOAK to a duration (e.g. 3m) to run the soak test")
	}
	soakFor, err := time.ParseDuration(length)
	if err != nil || soakFor < 30*time.Second {
		t.Fatalf("NSRAFT_SOAK=%q: want a duration of at least 30s", length)
	}
	seed := uint64(1)
	if s := os.Getenv("NSRAFT_SOAK_SEED"); s != "" {
		if seed, err = strconv.ParseUint(s, 10, 64); err != nil {
			t.Fatalf("NSRAFT_SOAK_SEED=%q: %v", s, err)
		}
	}
	dir := t.TempDir()
	if d := os.Getenv("NSRAFT_KEEP"); d != "" {
		dir = d
	}
	polFile := filepath.Join(dir, "soak-policy.hcl")
	if err := os.WriteFile(polFile, []byte(soakPolicy), 0o644); err != nil {
		t.Fatal(err)
	}
	ids := []string{"n1", "n2", "n3"}
	ctx := context.Background()
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	agents, err := StartAgents(sctx, AgentsConfig{Binary: nsAgent(t), Dir: dir + "/agents", IDs: ids, Policy: polFile, HTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	defer agents.Stop()
	c, err := Start(sctx, ClusterConfig{Nodes: 3, Binary: nsAgent(t), Dir: dir + "/nodes",
		ExtraArgs: func(id string) []string { return []string{"-agent-addr", agents.Socket(id)} }})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	waitLeader(t, c)
	t.Logf("soak: %v, seed %d, data in %s", soakFor, seed, dir)

	rng := rand.New(rand.NewPCG(seed, 19))
	wctx, stopWork := context.WithCancel(ctx)
	defer stopWork()
	faults := &faultLog{start: time.Now(), counts: map[string]int{}}
	var rep Report
	workDone := make(chan struct{})
	go func() {
		defer close(workDone)
		// Enough keys that porcupine checks minutes of history in seconds.
		rep = RunWorkload(wctx, c, WorkloadConfig{Keys: 256, Seed: seed})
	}()

	// Every node's timeout, read every 100ms, stays within the bounds
	// (its own 1s is within them too).
	var (
		vmu        sync.Mutex
		violations []string
		polls      int
	)
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for wctx.Err() == nil {
			for _, id := range ids {
				if !c.Running(id) {
					continue
				}
				rctx, cancel := context.WithTimeout(wctx, time.Second)
				st, err := c.Status(rctx, id)
				cancel()
				if err != nil {
					continue
				}
				vmu.Lock()
				polls++
				if v := float64(st.HeartbeatTimeoutMS); v < soakMinMS || v > soakMaxMS {
					violations = append(violations, fmt.Sprintf("%s: node %s runs %vms, outside [%v, %v]ms",
						time.Since(faults.start).Round(time.Millisecond), id, v, soakMinMS, soakMaxMS))
				}
				vmu.Unlock()
			}
			time.Sleep(100 * time.Millisecond)
		}
	}()

	hostile := &hostileStats{counts: map[string]int{}}
	hostileDone := make(chan struct{})
	go func() {
		defer close(hostileDone)
		hrng := rand.New(rand.NewPCG(seed, 20))
		for wctx.Err() == nil {
			id := ids[hrng.IntN(len(ids))]
			hostileAct(wctx, hrng, agents, id, hostile)
			time.Sleep(time.Duration(200+hrng.IntN(400)) * time.Millisecond)
		}
	}()

	// The fault schedule: agent faults one at a time, and the leader node
	// killed at a third and two thirds of the run.
	nodeKills := []time.Duration{soakFor / 3, 2 * soakFor / 3}
	brokenReloads, restores := 0, 0
	for time.Since(faults.start) < soakFor {
		if len(nodeKills) > 0 && time.Since(faults.start) >= nodeKills[0] {
			nodeKills = nodeKills[1:]
			lctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			leader, _, err := c.WaitLeader(lctx)
			cancel()
			if err != nil {
				t.Fatalf("no leader before the node kill: %v", err)
			}
			from := time.Now()
			if err := c.Kill(leader); err != nil {
				t.Fatal(err)
			}
			time.Sleep(3 * time.Second)
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err = c.Restart(rctx, leader)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			faults.add("node-kill", "SIGKILL the leader node "+leader+", restarted after 3s", true, from)
			continue
		}
		id := ids[rng.IntN(len(ids))]
		from := time.Now()
		switch k := rng.IntN(4); k {
		case 0:
			if err := agents.Kill(id); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
			rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := agents.Restart(rctx, id)
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			faults.add("agent-kill", "SIGKILL agent "+id+", restarted", false, from)
		case 1:
			if err := agents.Pause(id); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Duration(500+rng.IntN(2500)) * time.Millisecond)
			if err := agents.Resume(id); err != nil {
				t.Fatal(err)
			}
			faults.add("agent-stop", "SIGSTOP agent "+id+", SIGCONT", false, from)
		case 2, 3:
			var what, file, good string
			if k == 2 {
				what = pick(rng, brokenPolicies)
				file, good = polFile, soakPolicy
				if err := os.WriteFile(file, []byte(brokenPolicies[what]), 0o644); err != nil {
					t.Fatal(err)
				}
				what = "policy with " + what
			} else {
				what = pick(rng, brokenConfigs)
				file = agents.ConfigFile(id)
				b, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				good = string(b)
				if err := os.WriteFile(file, []byte(fmt.Sprintf(brokenConfigs[what], id)), 0o644); err != nil {
					t.Fatal(err)
				}
				what = "configuration with " + what
			}
			if err := agents.Reload(id); err != nil {
				t.Fatal(err)
			}
			brokenReloads++
			time.Sleep(1500 * time.Millisecond)
			if !agents.proc(id).alive() {
				b, _ := os.ReadFile(filepath.Join(dir, "agents", id+".agent.out"))
				t.Fatalf("agent %s died on SIGHUP with a %s:\n%s", id, what, lastBytes(string(b), 2000))
			}
			if err := os.WriteFile(file, []byte(good), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := agents.Reload(id); err != nil {
				t.Fatal(err)
			}
			restores++
			faults.add("broken-reload", "SIGHUP agent "+id+" with a "+what+", then the good file", false, from)
		}
		time.Sleep(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
	}
	stopWork()
	<-workDone
	<-watchDone
	<-hostileDone

	// Every agent is up and ready at the end.
	for _, id := range ids {
		resp, err := http.Get("http://" + agents.HTTPAddr(id) + "/readyz")
		if err != nil {
			t.Errorf("agent %s /readyz: %v", id, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("agent %s /readyz: %d %s", id, resp.StatusCode, b)
		}
	}
	if err := agents.Stop(); err != nil {
		t.Errorf("agents did not stop on SIGTERM: %v", err)
	}

	faults.mu.Lock()
	t.Logf("faults: %v", faults.counts)
	hostile.mu.Lock()
	t.Logf("hostile client: %v", hostile.counts)
	hostile.mu.Unlock()
	t.Logf("workload: %d writes (%d ok, %d unknown), %d reads; %d elections at %v; unavailable %v (longest %v); %s",
		rep.Writes, rep.WritesOK, rep.WritesUnknown, rep.Reads, rep.Elections, rep.ElectionsAt,
		rep.Unavailable.Round(time.Millisecond), rep.LongestUnavailable.Round(time.Millisecond), rep.Verdict)

	// No election but those the node faults caused: each must fall within
	// a node kill or 10s after its restart. One exception, which no agent
	// can cause: a leader that heard from no quorum within its leader
	// lease steps down by itself (the lease is fixed when the node starts
	// and no agent moves it; on loopback only a starved machine delays
	// every answer that long), and its log says so.
	stepDowns := leaseStepDowns(t, dir+"/nodes", ids)
	fromKills, fromStalls := 0, 0
	for _, at := range rep.ElectionsAt {
		explained := false
		for _, e := range faults.events {
			if e.node && at >= e.from-500*time.Millisecond && at <= e.to+10*time.Second {
				explained = true
			}
		}
		if explained {
			fromKills++
			continue
		}
		wall := faults.start.Add(at)
		if sd, ok := stepDownNear(stepDowns, wall); ok {
			fromStalls++
			t.Logf("the election at %v followed a leader's own step-down: %s", at.Round(time.Millisecond), sd)
			continue
		}
		t.Errorf("an election at %v that no node fault caused; faults around it: %s", at.Round(time.Millisecond), around(faults.events, at))
	}
	t.Logf("elections: %d after node kills, %d after a leader lost its quorum within its fixed lease", fromKills, fromStalls)
	faults.mu.Unlock()
	if rep.Verdict != Linearizable {
		t.Errorf("history of %d operations: %s", len(rep.History), rep.Verdict)
	}
	if rep.WritesOK == 0 {
		t.Error("no write succeeded")
	}
	vmu.Lock()
	if len(violations) > 0 {
		t.Errorf("%d of %d status reads outside the bounds, first: %s", len(violations), polls, strings.Join(violations[:min(5, len(violations))], "; "))
	}
	vmu.Unlock()

	// The logs: every line parseable, every decision within the bounds
	// and the step limits from the value the host had in force.
	decisions, stepped, lowest := 0, 0, math.Inf(1)
	for _, id := range ids {
		n, s, lo := checkDecisionLog(t, agents.LogFile(id))
		decisions, stepped, lowest = decisions+n, stepped+s, math.Min(lowest, lo)
	}
	t.Logf("decision logs: %d decisions checked, %d against the host's in-force value; lowest %vms", decisions, stepped, lowest)
	if stepped < 100 || lowest >= 1000 {
		t.Errorf("the agents hardly steered: %d decisions against a host value, lowest %vms", stepped, lowest)
	}
	failed, reloaded := 0, 0
	for _, id := range ids {
		f, r := checkOpsLog(t, filepath.Join(dir, "agents", id+".agent.out"))
		failed, reloaded = failed+f, reloaded+r
	}
	t.Logf("reloads: %d broken (%d refused), %d good (%d reloaded)", brokenReloads, failed, restores, reloaded)
	if failed < brokenReloads {
		t.Errorf("%d broken reloads, %d refusals logged", brokenReloads, failed)
	}
	if reloaded < restores {
		t.Errorf("%d good reloads, %d logged", restores, reloaded)
	}
	if hostile.get("hijack-refused") == 0 || hostile.get("oversized-refused") == 0 || hostile.get("long-name-refused") == 0 {
		t.Errorf("the hostile client's attempts were not all seen refused: %v", hostile.counts)
	}
}

// stepDown is a leader's own step-down for want of a quorum, from its log.
type stepDown struct {
	at   time.Time
	line string
}

// leaseStepDowns reads the nodes' logs for hashicorp/raft's "failed to
// contact quorum of nodes, stepping down".
func leaseStepDowns(t *testing.T, dir string, ids []string) []stepDown {
	t.Helper()
	var out []stepDown
	for _, id := range ids {
		b, err := os.ReadFile(filepath.Join(dir, id+".log"))
		if err != nil {
			t.Errorf("node log: %v", err)
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if !strings.Contains(line, "failed to contact quorum of nodes, stepping down") {
				continue
			}
			stamp, _, _ := strings.Cut(line, " ")
			at, err := time.Parse(time.RFC3339Nano, stamp)
			if err != nil {
				t.Errorf("%s.log: a line without a timestamp: %q", id, line)
				continue
			}
			out = append(out, stepDown{at: at, line: line})
		}
	}
	return out
}

// stepDownNear finds a step-down in the 3s before an election the monitor
// saw at wall time at (or up to 1s after it: the monitor polls, and the
// logs' clock is read by another process).
func stepDownNear(sds []stepDown, at time.Time) (string, bool) {
	for _, sd := range sds {
		if !sd.at.Before(at.Add(-3*time.Second)) && !sd.at.After(at.Add(time.Second)) {
			return sd.line, true
		}
	}
	return "", false
}

func pick(rng *rand.Rand, m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys[rng.IntN(len(keys))]
}

func lastBytes(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func around(events []soakEvent, at time.Duration) string {
	var out []string
	for _, e := range events {
		if e.to >= at-10*time.Second && e.from <= at+2*time.Second {
			out = append(out, fmt.Sprintf("[%v–%v] %s", e.from.Round(time.Millisecond), e.to.Round(time.Millisecond), e.what))
		}
	}
	if len(out) == 0 {
		return "none"
	}
	return strings.Join(out, "; ")
}

// floorChecks are the safety floors that may raise a value past step_up.
var floorChecks = map[string]bool{"rtt-floor": true, "election-rtts": true, "heartbeat-floor": true, "host-limit": true, "prevote-quorum": true}

// checkDecisionLog reads one agent's decision log: every line must be a
// JSON object; every decision within the soak bounds and, where the host
// said what it had in force (within the bounds), no further from it than
// the step limits allow. It returns the decisions read, those checked
// against a host value, and the lowest decision.
func checkDecisionLog(t *testing.T, path string) (decisions, stepped int, lowest float64) {
	t.Helper()
	lowest = math.Inf(1)
	f, err := os.Open(path)
	if err != nil {
		t.Errorf("decision log: %v", err)
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	bad := 0
	for line := 1; sc.Scan(); line++ {
		var rec struct {
			Message  string   `json:"@message"`
			Decision *float64 `json:"decision_ms"`
			Host     *float64 `json:"host_timeout_ms"`
			Checks   []struct {
				Name, Effect string
			} `json:"checks"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Errorf("%s:%d: not a JSON object (%v): %.200q", path, line, err, sc.Text())
			continue
		}
		if rec.Message != "decision" {
			continue
		}
		if rec.Decision == nil {
			t.Errorf("%s:%d: a decision without decision_ms", path, line)
			continue
		}
		d := *rec.Decision
		decisions++
		lowest = math.Min(lowest, d)
		where := fmt.Sprintf("%s:%d", path, line)
		if d < soakMinMS || d > soakMaxMS {
			bad++
			t.Errorf("%s: decision %vms outside [%v, %v]ms", where, d, soakMinMS, soakMaxMS)
		}
		if rec.Host == nil || *rec.Host < soakMinMS || *rec.Host > soakMaxMS {
			continue
		}
		h := *rec.Host
		stepped++
		floored := false
		for _, c := range rec.Checks {
			floored = floored || floorChecks[c.Name] && c.Effect == "changed"
		}
		const eps = 1e-3 // ms, rounding of the logged values
		if d < h*(1-soakStepDown)-eps {
			bad++
			t.Errorf("%s: decision %vms is more than step_down %v below the host's %vms", where, d, soakStepDown, h)
		}
		if d > h*(1+soakStepUp)+eps && !floored {
			bad++
			t.Errorf("%s: decision %vms is more than step_up %v above the host's %vms, and no safety floor raised it", where, d, soakStepUp, h)
		}
		if bad > 10 {
			t.Errorf("%s: giving up after %d problems", path, bad)
			return
		}
	}
	if err := sc.Err(); err != nil {
		t.Errorf("%s: %v", path, err)
	}
	return
}

// checkOpsLog reads an agent's operational output (its JSON log lines
// and the CLI's own messages) and counts refused and successful reloads.
// Every line that starts as JSON must parse.
func checkOpsLog(t *testing.T, path string) (failed, reloaded int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Errorf("agent output: %v", err)
		return
	}
	for i, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "{") {
			if strings.Contains(line, "panic") || strings.Contains(line, "fatal error") {
				t.Errorf("%s:%d: %s", path, i+1, line)
			}
			continue
		}
		var rec struct {
			Message string `json:"@message"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Errorf("%s:%d: not a JSON object (%v): %.200q", path, i+1, err, line)
			continue
		}
		switch {
		case strings.HasPrefix(rec.Message, "reload failed"):
			failed++
		case rec.Message == "reloaded":
			reloaded++
		}
	}
	return
}

// hostileAct does one hostile thing to agent id's socket and counts how
// the agent answered.
func hostileAct(ctx context.Context, rng *rand.Rand, agents *Agents, id string, h *hostileStats) {
	actx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	sock := agents.Socket(id)
	if rng.IntN(6) == 0 {
		// Raw garbage on the socket.
		c, err := net.DialTimeout("unix", strings.TrimPrefix(sock, "unix://"), time.Second)
		if err != nil {
			return
		}
		junk := make([]byte, 1+rng.IntN(8192))
		for i := range junk {
			junk[i] = byte(rng.Uint32())
		}
		c.SetDeadline(time.Now().Add(time.Second))
		c.Write(junk)
		c.Close()
		h.inc("garbage")
		return
	}
	cc, err := grpc.NewClient(sock, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return
	}
	defer cc.Close()
	cl := nsraftv1.NewAgentClient(cc)
	hello := func(node string) (nsraftv1.Agent_ConnectClient, error) {
		st, err := cl.Connect(actx)
		if err != nil {
			return nil, err
		}
		if err := st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Hello{Hello: &nsraftv1.Hello{Node: node, HostKind: "hashicorp", Live: true}}}); err != nil {
			return nil, err
		}
		m, err := st.Recv()
		if err != nil {
			return nil, err
		}
		if m.GetWelcome() == nil {
			return nil, fmt.Errorf("no welcome: %v", m)
		}
		return st, nil
	}
	switch rng.IntN(6) {
	case 0, 1:
		// Take over the host's session, and lie to the agent if that works.
		st, err := hello(id)
		switch status.Code(err) {
		case codes.OK:
		case codes.AlreadyExists:
			h.inc("hijack-refused")
			return
		default:
			return // the agent is down or restarting
		}
		// Welcomed: the node had no session (its agent just restarted).
		// Hold it for less than a lease and feed it lies.
		h.inc("hijack-welcomed")
		now := time.Now()
		for k := 0; k < 50; k++ {
			s := collector.Sample{At: now.Add(time.Duration(rng.IntN(7200)-3600) * time.Second), Node: id,
				CPUIdlePct: []float64{math.NaN(), math.Inf(1), -5, 60}[k%4], HeartbeatTimeout: time.Duration(1+rng.IntN(10000)) * time.Millisecond,
				RTTP99: time.Duration(rng.IntN(100)) * time.Millisecond, LastContact: -time.Second}
			s.Set(collector.FieldCPUIdle | collector.FieldHostTimeouts | collector.FieldRTT | collector.FieldLastContact)
			msg := api.FromSample(s)
			if k%5 == 0 {
				msg.AtUnixNano = []int64{math.MaxInt64, math.MinInt64, -1}[k%3]
			}
			if st.Send(&nsraftv1.HostMessage{Msg: &nsraftv1.HostMessage_Sample{Sample: msg}}) != nil {
				return
			}
			if _, err := st.Recv(); err != nil {
				return
			}
		}
		st.CloseSend()
	case 2:
		// A message past the agent's 64 KB cap.
		_, err := hello(strings.Repeat("n", 3<<20))
		if c := status.Code(err); c == codes.ResourceExhausted || c == codes.InvalidArgument {
			h.inc("oversized-refused")
		}
	case 3:
		// A name past the agent's 256-byte cap, inside the message cap.
		_, err := hello(strings.Repeat("n", 10000))
		if status.Code(err) == codes.InvalidArgument {
			h.inc("long-name-refused")
		}
	case 4:
		// Watch streams that never read, past the agent's cap of 32 (and
		// within its 40 streams per connection).
		wctx, stop := context.WithCancel(actx)
		for k := 0; k < 36; k++ {
			cl.Watch(wctx, &nsraftv1.WatchRequest{Replay: true})
		}
		time.Sleep(2 * time.Second)
		stop()
		h.inc("watch-flood")
	case 5:
		// Dashboard pages that never read.
		var bodies []io.Closer
		for k := 0; k < 20; k++ {
			req, _ := http.NewRequestWithContext(actx, "GET", "http://"+agents.HTTPAddr(id)+"/events", nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				bodies = append(bodies, resp.Body)
			}
		}
		time.Sleep(2 * time.Second)
		for _, b := range bodies {
			b.Close()
		}
		h.inc("sse-flood")
	}
}
