package sim

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/gohcl"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"

	"github.com/nsraft/nsraft/configs"
)

// Scenario is one simulated (or, through refcluster, injected) environment:
// cluster size, timing, crashes, the network model, node heterogeneity and
// partitions. Field defaults are documented on each field.
type Scenario struct {
	Name string
	// Nodes is the number of voters, 3 to 9, named n1…nN. Default 5.
	Nodes int
	// Duration is the simulated time. Default 10m.
	Duration time.Duration
	// Heartbeat is the leader's heartbeat interval. Default 50ms.
	Heartbeat time.Duration
	// PreVote is whether nodes run the pre-vote extension. Default true
	// (hashicorp/raft v1.8 and etcd with --pre-vote).
	PreVote bool
	// Crash, when set, crashes the current leader at exponentially
	// distributed intervals.
	Crash *Crash
	// Network is the default for every directed link.
	Network Network
	// Links override Network fields per directed link.
	Links []Link
	// NodeSpecs make nodes heterogeneous.
	NodeSpecs []NodeSpec
	// Partitions isolate groups of nodes for a while.
	Partitions []Partition
	// Host is whose timing rules the run plays (HostKind). Default
	// generic; sim.Options.Host overrides it per run.
	Host HostKind
	// LeaderLease is hashicorp/raft's LeaderLeaseTimeout when the run
	// plays that host. Default 100ms (DefaultLeaderLease).
	LeaderLease time.Duration
	// ElectionTicks is etcd's election timeout in ticks when the run
	// plays that host. Default 10 (DefaultElectionTicks).
	ElectionTicks int
	// ClientRate is the client's write requests per second, arriving at
	// random (Poisson). Default 20; sim.Options.ClientRate overrides it.
	// Under the hashicorp host it also decides how often a leader hears
	// from its followers between heartbeats, and so whether a short lease
	// holds.
	ClientRate float64
	// ElectionWindow is how far back each node's tracker counts
	// elections (default collector.ElectionWindow). A live benchmark
	// that compresses the time between faults compresses its agents'
	// window with it, and so does the simulator's twin of its runs. Not
	// part of the file grammar.
	ElectionWindow time.Duration
}

// Crash describes leader crashes: either at exponentially distributed
// intervals (MeanInterval), or once at a fixed time (At) when MeanInterval
// is not set — for tests and hand-checked runs.
type Crash struct {
	MeanInterval time.Duration // mean time between crashes
	At           time.Duration // time of a single crash
	Downtime     time.Duration // how long a crashed node stays down
}

// Network is the model of one directed link.
type Network struct {
	Delay     time.Duration // one-way base delay
	Jitter    time.Duration // uniform ±jitter added to each message
	TailProb  float64       // share of messages that get a heavy-tail extra delay
	TailDelay time.Duration // mean of that extra delay (exponential)
	Loss      float64       // probability a message is lost
	// Drift is how much the base delay grows over the run: linearly from
	// Delay at the start to Delay+Drift at the end (routes changing,
	// a link filling up over hours, compressed). Default 0.
	Drift time.Duration
	Burst *Burst // correlated degradation hitting every link at once
}

// Burst is a correlated degradation of all links: bursts start at
// exponentially distributed intervals and last an exponentially
// distributed time.
type Burst struct {
	MeanInterval time.Duration
	MeanLength   time.Duration
	ExtraDelay   time.Duration
	Loss         float64
}

// Link overrides the network model of the directed link From→To. Only the
// fields that were set in the file are overridden (Set lists them).
type Link struct {
	From, To string
	Network  Network
	Set      map[string]bool
}

// NodeSpec makes one node slower, subject to stop-the-world pauses, to a
// noisy neighbour or to disk stalls.
type NodeSpec struct {
	Name       string
	Slowdown   float64       // processing delay multiplier, ≥ 1; default 1
	PauseEvery time.Duration // mean interval between pauses; 0 = never
	Pause      time.Duration // length of each pause

	// A noisy neighbour (another tenant of the machine) takes the CPU in
	// episodes: their gaps are exponential with mean NoisyEvery, their
	// lengths exponential with mean NoisyLength. During one the node
	// handles messages NoisySlowdown times slower (default 4) and its
	// CPU idle share drops by NoisyBusy points (default 50). 0 = never.
	NoisyEvery, NoisyLength time.Duration
	NoisySlowdown           float64
	NoisyBusy               float64
	// Disk stalls (fsync stalls): gaps exponential with mean
	// DiskStallEvery, lengths exponential with mean DiskStall. A node
	// blocked on its disk sends nothing until the stall ends — a leader's
	// appends and heartbeats, a voter's replies — while it still receives
	// and its timers run. 0 = never.
	DiskStallEvery, DiskStall time.Duration
}

// Partition isolates the listed nodes from the rest at At for Duration.
type Partition struct {
	At       time.Duration
	Duration time.Duration
	Isolate  []string
}

// Lease is how long a leader keeps leading without hearing from a
// majority (hashicorp/raft's LeaderLeaseTimeout, etcd's CheckQuorum): ten
// heartbeat intervals, fixed for the whole run whatever timeout a strategy
// applies.
func (s *Scenario) Lease() time.Duration { return 10 * s.Heartbeat }

// NodeIDs returns n1…nN.
func (s *Scenario) NodeIDs() []string {
	ids := make([]string, s.Nodes)
	for i := range ids {
		ids[i] = "n" + strconv.Itoa(i+1)
	}
	return ids
}

// LinkNetwork returns the effective network model of the link from→to.
func (s *Scenario) LinkNetwork(from, to string) Network {
	n := s.Network
	for _, l := range s.Links {
		if l.From != from || l.To != to {
			continue
		}
		if l.Set["delay"] {
			n.Delay = l.Network.Delay
		}
		if l.Set["jitter"] {
			n.Jitter = l.Network.Jitter
		}
		if l.Set["tail_prob"] {
			n.TailProb = l.Network.TailProb
		}
		if l.Set["tail_delay"] {
			n.TailDelay = l.Network.TailDelay
		}
		if l.Set["loss"] {
			n.Loss = l.Network.Loss
		}
		if l.Set["drift"] {
			n.Drift = l.Network.Drift
		}
	}
	return n
}

// Node returns the spec of a node (the default spec if none was given).
func (s *Scenario) Node(id string) NodeSpec {
	for _, n := range s.NodeSpecs {
		if n.Name == id {
			return n
		}
	}
	return NodeSpec{Name: id, Slowdown: 1}
}

// DefaultClientRate is the client's write requests per second when a
// scenario names none.
const DefaultClientRate = 20.0

// The HCL shapes. Durations and probabilities are decoded as expressions so
// every error can point at the offending value.
type fileRoot struct {
	Scenarios []fileScenario `hcl:"scenario,block"`
}

type fileScenario struct {
	Name       string          `hcl:"name,label"`
	Nodes      hcl.Expression  `hcl:"nodes,optional"`
	Duration   hcl.Expression  `hcl:"duration,optional"`
	Heartbeat  hcl.Expression  `hcl:"heartbeat,optional"`
	PreVote    hcl.Expression  `hcl:"prevote,optional"`
	Host       hcl.Expression  `hcl:"host,optional"`
	Lease      hcl.Expression  `hcl:"leader_lease_timeout,optional"`
	Ticks      hcl.Expression  `hcl:"election_ticks,optional"`
	ClientRate hcl.Expression  `hcl:"client_rate,optional"`
	Crash      []fileCrash     `hcl:"crash,block"`
	Network    []fileNetwork   `hcl:"network,block"`
	Links      []fileLink      `hcl:"link,block"`
	NodeSpecs  []fileNode      `hcl:"node,block"`
	Partitions []filePartition `hcl:"partition,block"`
	DefRange   hcl.Range       `hcl:",def_range"`
}

type fileCrash struct {
	MeanInterval hcl.Expression `hcl:"mean_interval,optional"`
	At           hcl.Expression `hcl:"at,optional"`
	Downtime     hcl.Expression `hcl:"downtime"`
	DefRange     hcl.Range      `hcl:",def_range"`
}

type fileNetwork struct {
	Delay     hcl.Expression `hcl:"delay,optional"`
	Jitter    hcl.Expression `hcl:"jitter,optional"`
	TailProb  hcl.Expression `hcl:"tail_prob,optional"`
	TailDelay hcl.Expression `hcl:"tail_delay,optional"`
	Loss      hcl.Expression `hcl:"loss,optional"`
	Drift     hcl.Expression `hcl:"drift,optional"`
	Burst     []fileBurst    `hcl:"burst,block"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type fileLink struct {
	From      string         `hcl:"from,label"`
	To        string         `hcl:"to,label"`
	Delay     hcl.Expression `hcl:"delay,optional"`
	Jitter    hcl.Expression `hcl:"jitter,optional"`
	TailProb  hcl.Expression `hcl:"tail_prob,optional"`
	TailDelay hcl.Expression `hcl:"tail_delay,optional"`
	Loss      hcl.Expression `hcl:"loss,optional"`
	Drift     hcl.Expression `hcl:"drift,optional"`
	DefRange  hcl.Range      `hcl:",def_range"`
}

type fileBurst struct {
	MeanInterval hcl.Expression `hcl:"mean_interval"`
	MeanLength   hcl.Expression `hcl:"mean_length"`
	ExtraDelay   hcl.Expression `hcl:"extra_delay,optional"`
	Loss         hcl.Expression `hcl:"loss,optional"`
}

type fileNode struct {
	Name       string         `hcl:"name,label"`
	Slowdown   hcl.Expression `hcl:"slowdown,optional"`
	PauseEvery hcl.Expression `hcl:"pause_every,optional"`
	Pause      hcl.Expression `hcl:"pause,optional"`

	NoisyEvery     hcl.Expression `hcl:"noisy_every,optional"`
	NoisyLength    hcl.Expression `hcl:"noisy_length,optional"`
	NoisySlowdown  hcl.Expression `hcl:"noisy_slowdown,optional"`
	NoisyBusy      hcl.Expression `hcl:"noisy_busy,optional"`
	DiskStallEvery hcl.Expression `hcl:"disk_stall_every,optional"`
	DiskStall      hcl.Expression `hcl:"disk_stall,optional"`
	DefRange       hcl.Range      `hcl:",def_range"`
}

type filePartition struct {
	At       hcl.Expression `hcl:"at"`
	Duration hcl.Expression `hcl:"duration"`
	Isolate  hcl.Expression `hcl:"isolate"`
}

// decoder adds the scenario grammar's defaults to the shared value checks.
type decoder struct{ configs.Decoder }

// duration decodes an optional non-negative duration, def when absent.
func (d *decoder) duration(e hcl.Expression, name string, def time.Duration) (time.Duration, bool) {
	if v, ok := d.Duration(e, name, false); ok {
		return v, true
	}
	return def, false
}

// number decodes an optional number in [min, max], def when absent.
func (d *decoder) number(e hcl.Expression, name string, def, min, max float64) (float64, bool) {
	if v, ok := d.Number(e, name, min, max); ok {
		return v, true
	}
	return def, false
}

// Parse parses every scenario block of an HCL file.
func Parse(src []byte, filename string) ([]*Scenario, hcl.Diagnostics) {
	if diags := configs.CheckLimits(src, filename); diags.HasErrors() {
		return nil, diags
	}
	f, diags := hclparse.NewParser().ParseHCL(src, filename)
	if diags.HasErrors() {
		return nil, diags
	}
	var root fileRoot
	d := &decoder{configs.Decoder{Diags: gohcl.DecodeBody(f.Body, nil, &root)}}
	if len(root.Scenarios) == 0 && !d.Diags.HasErrors() {
		d.Errf(f.Body.MissingItemRange(), "no scenario block in %s", filename)
	}
	var out []*Scenario
	for _, fs := range root.Scenarios {
		out = append(out, d.scenario(fs))
	}
	if d.Diags.HasErrors() {
		return nil, d.Diags
	}
	return out, d.Diags
}

func (d *decoder) network(fn fileNetwork) Network {
	var n Network
	n.Delay, _ = d.duration(fn.Delay, "delay", 0)
	n.Jitter, _ = d.duration(fn.Jitter, "jitter", 0)
	n.TailProb, _ = d.number(fn.TailProb, "tail_prob", 0, 0, 1)
	n.TailDelay, _ = d.duration(fn.TailDelay, "tail_delay", 0)
	n.Loss, _ = d.number(fn.Loss, "loss", 0, 0, 1)
	n.Drift, _ = d.duration(fn.Drift, "drift", 0)
	return n
}

func (d *decoder) scenario(fs fileScenario) *Scenario {
	s := &Scenario{Name: fs.Name, Nodes: 5, Duration: 10 * time.Minute, Heartbeat: 50 * time.Millisecond, PreVote: true}
	if n, ok := d.number(fs.Nodes, "nodes", 5, 3, 9); ok {
		if n != float64(int(n)) {
			d.Errf(fs.Nodes.Range(), "nodes must be a whole number, got %g", n)
		}
		s.Nodes = int(n)
	}
	s.Duration, _ = d.duration(fs.Duration, "duration", s.Duration)
	if s.Duration == 0 {
		d.Errf(fs.DefRange, "scenario %q: duration must be positive", fs.Name)
	}
	if hb, ok := d.Duration(fs.Heartbeat, "heartbeat", true); ok {
		s.Heartbeat = hb
	}
	if v, ok := d.Bool(fs.PreVote, "prevote"); ok {
		s.PreVote = v
	}
	d.host(fs, s)
	known := map[string]bool{}
	for _, id := range s.NodeIDs() {
		known[id] = true
	}
	checkNode := func(id string, rng hcl.Range) {
		if !known[id] {
			d.Errf(rng, "unknown node %q: this scenario has nodes n1…n%d", id, s.Nodes)
		}
	}
	if len(fs.Crash) > 1 {
		d.Errf(fs.Crash[1].DefRange, "only one crash block is allowed")
	}
	for _, c := range fs.Crash[:min(1, len(fs.Crash))] {
		cr := &Crash{}
		cr.MeanInterval, _ = d.duration(c.MeanInterval, "mean_interval", 0)
		cr.At, _ = d.duration(c.At, "at", 0)
		cr.Downtime, _ = d.duration(c.Downtime, "downtime", 0)
		if (cr.MeanInterval > 0) == (cr.At > 0) {
			d.Errf(c.DefRange, "crash needs exactly one of mean_interval (repeated crashes) or at (one crash)")
		}
		s.Crash = cr
	}
	if len(fs.Network) > 1 {
		d.Errf(fs.Network[1].DefRange, "only one network block is allowed")
	}
	for _, fn := range fs.Network[:min(1, len(fs.Network))] {
		s.Network = d.network(fn)
		if len(fn.Burst) > 1 {
			d.Errf(fn.DefRange, "only one burst block is allowed")
		}
		for _, b := range fn.Burst[:min(1, len(fn.Burst))] {
			bu := &Burst{}
			bu.MeanInterval, _ = d.duration(b.MeanInterval, "mean_interval", 0)
			bu.MeanLength, _ = d.duration(b.MeanLength, "mean_length", 0)
			bu.ExtraDelay, _ = d.duration(b.ExtraDelay, "extra_delay", 0)
			bu.Loss, _ = d.number(b.Loss, "loss", 0, 0, 1)
			if bu.MeanInterval <= 0 || bu.MeanLength <= 0 {
				d.Errf(fn.DefRange, "burst.mean_interval and burst.mean_length must be positive")
			}
			s.Network.Burst = bu
		}
	}
	for _, fl := range fs.Links {
		checkNode(fl.From, fl.DefRange)
		checkNode(fl.To, fl.DefRange)
		if fl.From == fl.To {
			d.Errf(fl.DefRange, "link %q %q connects a node to itself", fl.From, fl.To)
		}
		l := Link{From: fl.From, To: fl.To, Set: map[string]bool{}}
		var ok bool
		if l.Network.Delay, ok = d.duration(fl.Delay, "delay", 0); ok {
			l.Set["delay"] = true
		}
		if l.Network.Jitter, ok = d.duration(fl.Jitter, "jitter", 0); ok {
			l.Set["jitter"] = true
		}
		if l.Network.TailProb, ok = d.number(fl.TailProb, "tail_prob", 0, 0, 1); ok {
			l.Set["tail_prob"] = true
		}
		if l.Network.TailDelay, ok = d.duration(fl.TailDelay, "tail_delay", 0); ok {
			l.Set["tail_delay"] = true
		}
		if l.Network.Loss, ok = d.number(fl.Loss, "loss", 0, 0, 1); ok {
			l.Set["loss"] = true
		}
		if l.Network.Drift, ok = d.duration(fl.Drift, "drift", 0); ok {
			l.Set["drift"] = true
		}
		s.Links = append(s.Links, l)
	}
	for _, fn := range fs.NodeSpecs {
		checkNode(fn.Name, fn.DefRange)
		n := NodeSpec{Name: fn.Name}
		n.Slowdown, _ = d.number(fn.Slowdown, "slowdown", 1, 1, 1000)
		n.PauseEvery, _ = d.duration(fn.PauseEvery, "pause_every", 0)
		n.Pause, _ = d.duration(fn.Pause, "pause", 0)
		if n.PauseEvery > 0 && n.Pause >= n.PauseEvery {
			d.Errf(fn.DefRange, "node %q: pause (%s) must be shorter than pause_every (%s)", fn.Name, n.Pause, n.PauseEvery)
		}
		if (n.PauseEvery > 0) != (n.Pause > 0) {
			d.Errf(fn.DefRange, "node %q: pause and pause_every go together", fn.Name)
		}
		n.NoisyEvery, _ = d.duration(fn.NoisyEvery, "noisy_every", 0)
		n.NoisyLength, _ = d.duration(fn.NoisyLength, "noisy_length", 0)
		var setSlow, setBusy bool
		n.NoisySlowdown, setSlow = d.number(fn.NoisySlowdown, "noisy_slowdown", 4, 1, 1000)
		n.NoisyBusy, setBusy = d.number(fn.NoisyBusy, "noisy_busy", 50, 0, 100)
		d.episodes(fn.DefRange, fn.Name, "noisy_every", "noisy_length", n.NoisyEvery, n.NoisyLength)
		if n.NoisyEvery == 0 && (setSlow || setBusy) {
			d.Errf(fn.DefRange, "node %q: noisy_slowdown and noisy_busy need noisy_every and noisy_length", fn.Name)
		}
		n.DiskStallEvery, _ = d.duration(fn.DiskStallEvery, "disk_stall_every", 0)
		n.DiskStall, _ = d.duration(fn.DiskStall, "disk_stall", 0)
		d.episodes(fn.DefRange, fn.Name, "disk_stall_every", "disk_stall", n.DiskStallEvery, n.DiskStall)
		s.NodeSpecs = append(s.NodeSpecs, n)
	}
	for _, fp := range fs.Partitions {
		p := Partition{}
		p.At, _ = d.duration(fp.At, "at", 0)
		p.Duration, _ = d.duration(fp.Duration, "duration", 0)
		if p.At >= s.Duration {
			d.Errf(fp.At.Range(), "partition at %s starts after the scenario ends (%s)", p.At, s.Duration)
		}
		iso := d.stringList(fp.Isolate, "isolate")
		for _, id := range iso {
			checkNode(id, fp.Isolate.Range())
		}
		if len(iso) == 0 || len(iso) >= s.Nodes {
			d.Errf(fp.Isolate.Range(), "isolate must name between 1 and %d nodes", s.Nodes-1)
		}
		p.Isolate = iso
		s.Partitions = append(s.Partitions, p)
	}
	sort.Slice(s.Partitions, func(i, j int) bool { return s.Partitions[i].At < s.Partitions[j].At })
	return s
}

// host decodes the host model and its parameters.
func (d *decoder) host(fs fileScenario, s *Scenario) {
	s.Host, s.LeaderLease, s.ElectionTicks = HostGeneric, DefaultLeaderLease, DefaultElectionTicks
	if v, diags := fs.Host.Value(nil); !diags.HasErrors() && !v.IsNull() {
		if !v.Type().Equals(cty.String) {
			d.Errf(fs.Host.Range(), "host must be a string: one of generic, hashicorp, etcd")
		} else if k, err := ParseHostKind(v.AsString()); err != nil {
			d.Errf(fs.Host.Range(), "%v", err)
		} else {
			s.Host = k
		}
	} else if diags.HasErrors() {
		d.Diags = append(d.Diags, diags...)
	}
	if l, ok := d.duration(fs.Lease, "leader_lease_timeout", DefaultLeaderLease); ok {
		if l < hcMinTimeout {
			d.Errf(fs.Lease.Range(), "leader_lease_timeout %s is below hashicorp/raft's limit of %s", l, hcMinTimeout)
		}
		s.LeaderLease = l
	}
	if n, ok := d.number(fs.Ticks, "election_ticks", DefaultElectionTicks, 1, 1000); ok {
		if n != float64(int(n)) {
			d.Errf(fs.Ticks.Range(), "election_ticks must be a whole number, got %g", n)
		}
		s.ElectionTicks = int(n)
	}
	s.ClientRate, _ = d.number(fs.ClientRate, "client_rate", DefaultClientRate, 0.1, 10000)
}

// episodes checks a pair of episode fields (mean gap, mean length): both
// or neither, and the length shorter than the gap.
func (d *decoder) episodes(rng hcl.Range, node, everyName, lengthName string, every, length time.Duration) {
	if (every > 0) != (length > 0) {
		d.Errf(rng, "node %q: %s and %s go together", node, everyName, lengthName)
	} else if every > 0 && length >= every {
		d.Errf(rng, "node %q: %s (%s) must be shorter than %s (%s)", node, lengthName, length, everyName, every)
	}
}

// stringList decodes a list of strings.
func (d *decoder) stringList(e hcl.Expression, name string) []string {
	v, diags := e.Value(nil)
	if diags.HasErrors() {
		d.Diags = append(d.Diags, diags...)
		return nil
	}
	if v.IsNull() || !(v.Type().IsTupleType() || v.Type().IsListType()) {
		d.Errf(e.Range(), "%s must be a list of node names like [\"n1\"]", name)
		return nil
	}
	var out []string
	for it := v.ElementIterator(); it.Next(); {
		_, el := it.Element()
		if el.IsNull() || !el.Type().Equals(cty.String) {
			d.Errf(e.Range(), "%s must be a list of node names like [\"n1\"]", name)
			return nil
		}
		out = append(out, el.AsString())
	}
	return out
}

// ParseFile parses a scenario file.
func ParseFile(filename string) ([]*Scenario, hcl.Diagnostics) {
	src, err := configs.ReadFile(filename, configs.MaxFileBytes)
	if err != nil {
		return nil, configs.ReadDiagnostic(err)
	}
	return Parse(src, filename)
}

// LoadSuite parses every *.hcl file of dir suite in fsys (the embedded
// configs.Scenarios), in file-name order.
func LoadSuite(fsys fs.FS, suite string) ([]*Scenario, error) {
	entries, err := fs.ReadDir(fsys, path.Join("scenarios", suite))
	if err != nil {
		return nil, fmt.Errorf("unknown suite %q (have %s)", suite, strings.Join(Suites(fsys), ", "))
	}
	var out []*Scenario
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".hcl") {
			continue
		}
		p := path.Join("scenarios", suite, e.Name())
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, err
		}
		scs, diags := Parse(src, p)
		if diags.HasErrors() {
			return nil, fmt.Errorf("%s", configs.FormatDiagnostics(diags))
		}
		out = append(out, scs...)
	}
	return out, nil
}

// Suites lists the suite names in fsys.
func Suites(fsys fs.FS) []string {
	entries, _ := fs.ReadDir(fsys, "scenarios")
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out
}
