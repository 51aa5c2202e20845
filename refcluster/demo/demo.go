package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/refcluster"
	"github.com/nsraft/nsraft/sim"
)

// Config is one demo run.
type Config struct {
	Binary    string        // the ns-agent binary that runs `node` and `run`
	Scenario  *sim.Scenario // faults to inject; Duration 0: none scheduled, run until ctx ends
	Nodes     int           // cluster size, 3 to 9
	Seed      uint64        // of the fault schedule and the workload
	Heartbeat time.Duration // every node's HeartbeatTimeout; 0: hashicorp/raft's 1s
	Dashboard string        // address of the live dashboard; "" or "off": none
	Strategy  string        // recommender of the agent beside each node; "": no agents
	Keep      bool          // keep the data dir and logs
}

// ErrNotLinearizable is returned when the run's history is not
// linearizable.
var ErrNotLinearizable = errors.New("history is not linearizable")

// Run runs the demo until its scenario ends or ctx does, writing the live
// log and the closing summary to stdout. Setup failures are returned as
// errors; so is a history that is not linearizable (ErrNotLinearizable),
// after the summary.
func Run(ctx context.Context, c Config, stdout io.Writer) error {
	scen := Trim(c.Scenario)
	interactive := scen.Duration == 0
	nodes, strategy := c.Nodes, c.Strategy
	dir, err := os.MkdirTemp("", "ns-agent-demo-")
	if err != nil {
		return err
	}
	keep := c.Keep
	defer func() {
		if !keep {
			os.RemoveAll(dir)
		}
	}()

	var mu sync.Mutex
	start := time.Now()
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}

	mesh := refcluster.NewMesh()
	defer mesh.Close()
	timing := refcluster.Timing{HeartbeatTimeout: c.Heartbeat, ElectionTimeout: c.Heartbeat}
	say("starting %d nodes (hashicorp/raft + raft-boltdb, one process each) in %s", nodes, dir)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	ccfg := refcluster.ClusterConfig{Nodes: nodes, Binary: c.Binary, Dir: dir, Timing: timing, Dial: mesh.Dial}
	var agents *refcluster.Agents
	if strategy != "" {
		// One `ns-agent run` process beside each node, as in production:
		// the node links to it over a unix socket, and the agent writes
		// its recommendation log into the data dir.
		ids := make([]string, nodes)
		for i := range ids {
			ids[i] = fmt.Sprintf("n%d", i+1)
		}
		agents, err = refcluster.StartAgents(sctx, refcluster.AgentsConfig{Binary: c.Binary, Dir: filepath.Join(dir, "agents"),
			IDs: ids, Recommender: strategy})
		if err != nil {
			cancel()
			return err
		}
		defer agents.Stop()
		ccfg.ExtraArgs = func(id string) []string { return []string{"-agent-addr", agents.Socket(id)} }
		say("started %d agents (%s through the default policy); follow them with:", nodes, strategy)
		say("  ns-agent tail -addr %s", agents.Socket("n1"))
	}
	cluster, err := refcluster.Start(sctx, ccfg)
	cancel()
	if err != nil {
		keep = true
		return fmt.Errorf("%w\n(data and logs kept in %s)", err, dir)
	}
	defer cluster.Stop()
	lctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	leader, term, err := cluster.WaitLeader(lctx)
	cancel()
	if err != nil {
		// Say why, as the nodes see it, and keep their data and logs.
		keep = true
		dctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return fmt.Errorf("%w\n%s(data and logs kept in %s)", err, cluster.Describe(dctx, 15), dir)
	}
	say("leader %s elected in term %d; %d links, each through its own proxy", leader, term, len(mesh.Links()))

	var dash *agent.Dashboard
	if c.Dashboard != "off" && c.Dashboard != "" {
		dash = agent.NewDashboard(fmt.Sprintf("ns-agent demo: %d nodes", nodes), &controls{cluster: cluster, mesh: mesh, agents: agents})
		ln, err := net.Listen("tcp", c.Dashboard)
		if err != nil {
			return fmt.Errorf("-dashboard: %w", err)
		}
		srv := &http.Server{Handler: dash, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		if agents != nil {
			for _, id := range cluster.IDs() {
				go dash.Follow(ctx, agents.Socket(id))
			}
		}
		say("dashboard: http://%s/", ln.Addr())
	}
	note := func(err error, format string, a ...any) {
		if dash != nil {
			dash.Notef(err, format, a...)
		}
	}

	sch := refcluster.BuildSchedule(scen, c.Seed)
	say("scenario %q: %d fault events over %s (seed %d)", scen.Name, len(sch.Events), scen.Duration, c.Seed)
	for _, n := range sch.NotInjected {
		say("  not injected: %s", n)
	}

	runCtx, cancelRun := context.WithTimeout(ctx, scen.Duration)
	if interactive {
		runCtx, cancelRun = context.WithCancel(ctx)
		say("running until interrupted (Ctrl-C); inject faults from the dashboard")
	}
	defer cancelRun()
	start = time.Now()
	say("workload and fault schedule start (times below are since this line)")
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		refcluster.RunSchedule(runCtx, cluster, mesh, sch, func(ev refcluster.FaultEvent, target string, err error) {
			msg := "fault: " + ev.String()
			if target != "" && ev.Kind != refcluster.FaultPause && ev.Kind != refcluster.FaultResume {
				msg += " (" + target + ")"
			}
			if err != nil {
				msg += " — " + err.Error()
			}
			say("%s", msg)
			note(err, "%s", strings.TrimPrefix(msg, "fault: "))
		})
	}()
	// About 150 operations per second on this cluster: 1 key per second
	// of run keeps each key's history short enough for porcupine.
	keys := int(scen.Duration/time.Second) + 8
	if interactive {
		keys = 256 // an open-ended run: keep each key's history short
	}
	if strategy != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(5 * time.Second)
			defer t.Stop()
			for {
				select {
				case <-runCtx.Done():
					return
				case <-t.C:
					say("timeouts (%s agent): %s", strategy, timeouts(runCtx, cluster))
				}
			}
		}()
	}
	rep := refcluster.RunWorkload(runCtx, cluster, refcluster.WorkloadConfig{Seed: c.Seed, Keys: keys, OnLeaderChange: func(ch refcluster.LeaderChange) {
		say("leader: %s (term %d)", ch.Leader, ch.Term)
		note(nil, "client sees leader %s (term %d)", ch.Leader, ch.Term)
	}})
	wg.Wait()
	if ctx.Err() != nil {
		say("interrupted")
	}

	changes := len(rep.LeaderChanges) - 1
	if changes < 0 {
		changes = 0
	}
	fmt.Fprintln(stdout)
	fmt.Fprintln(stdout, "summary")
	fmt.Fprintf(stdout, "  ran                  %s, %d nodes, heartbeat timeout %s\n", rep.Duration.Round(100*time.Millisecond), nodes, effectiveTimeout(c.Heartbeat))
	if strategy != "" {
		fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		fmt.Fprintf(stdout, "  agent timeouts now   %s (%s through the default policy)\n", timeouts(fctx, cluster), strategy)
		cancel()
	}
	fmt.Fprintf(stdout, "  writes               %d ok of %d (%d unknown outcome)\n", rep.WritesOK, rep.Writes, rep.WritesUnknown)
	fmt.Fprintf(stdout, "  reads                %d ok of %d\n", rep.ReadsOK, rep.Reads)
	fmt.Fprintf(stdout, "  write unavailability %s total, %s longest\n", rep.Unavailable.Round(time.Millisecond), rep.LongestUnavailable.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  elections            %d (terms started)\n", rep.Elections)
	fmt.Fprintf(stdout, "  leader changes       %d\n", changes)
	fmt.Fprintf(stdout, "  linearizability      %s (%d operations, porcupine)\n", rep.Verdict, len(rep.History))
	if c.Keep {
		fmt.Fprintf(stdout, "  data and logs        %s\n", dir)
	}
	if rep.Verdict == refcluster.NotLinearizable {
		return ErrNotLinearizable
	}
	return nil
}

// timeouts reads every running node's HeartbeatTimeout from its status.
func timeouts(ctx context.Context, c *refcluster.Cluster) string {
	var parts []string
	for _, id := range c.IDs() {
		st, err := c.Status(ctx, id)
		if err != nil {
			parts = append(parts, id+"=?")
			continue
		}
		parts = append(parts, fmt.Sprintf("%s=%dms", id, st.HeartbeatTimeoutMS))
	}
	return strings.Join(parts, " ")
}

func effectiveTimeout(d time.Duration) string {
	if d == 0 {
		return "1s (hashicorp/raft default)"
	}
	return d.String()
}

// Trim drops the parts of a scenario that name nodes beyond its
// (possibly reduced) size, and partitions that start after its end.
func Trim(s *sim.Scenario) *sim.Scenario {
	out := *s
	ok := func(id string) bool {
		var n int
		_, err := fmt.Sscanf(id, "n%d", &n)
		return err == nil && n >= 1 && n <= s.Nodes
	}
	out.Links = nil
	for _, l := range s.Links {
		if ok(l.From) && ok(l.To) {
			out.Links = append(out.Links, l)
		}
	}
	out.NodeSpecs = nil
	for _, n := range s.NodeSpecs {
		if ok(n.Name) {
			out.NodeSpecs = append(out.NodeSpecs, n)
		}
	}
	out.Partitions = nil
	for _, p := range s.Partitions {
		var iso []string
		for _, id := range p.Isolate {
			if ok(id) {
				iso = append(iso, id)
			}
		}
		if len(iso) > 0 && len(iso) < s.Nodes && p.At < s.Duration {
			p.Isolate = iso
			out.Partitions = append(out.Partitions, p)
		}
	}
	return &out
}
