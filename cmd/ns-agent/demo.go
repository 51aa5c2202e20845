//go:build !sidecar

package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/model"
	"github.com/nsraft/nsraft/refcluster"
	"github.com/nsraft/nsraft/sim"
)

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		duration = fs.Duration("duration", 60*time.Second, "how long to run the workload under faults; 0: until interrupted, with faults only from the dashboard")
		dashAddr = fs.String("dashboard", "127.0.0.1:0", "serve the live dashboard, with fault controls, on this `address`; off: none")
		nodes    = fs.Int("nodes", 5, "cluster size, 3 to 9")
		seed     = fs.Uint64("seed", 1, "seed of the fault schedule and the workload")
		scenFile = fs.String("scenario", "", "scenario `file` to inject instead of the built-in demo scenario")
		hbTO     = fs.Duration("heartbeat-timeout", 0, "Raft HeartbeatTimeout of every node (default hashicorp/raft's 1s)")
		keep     = fs.Bool("keep", false, "keep the cluster's data dir and logs after the run")
		strategy = fs.String("strategy", "lstm", "recommender of the agent beside each node (lstm, linucb, …); none: no agents, the host's own timing")
	)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent demo [flags]")
		fmt.Fprintln(stderr, "\nStarts a local hashicorp/raft key-value cluster (one process per node), routes every")
		fmt.Fprintln(stderr, "Raft link through its own toxiproxy proxy, injects the faults of a scenario while a")
		fmt.Fprintln(stderr, "client writes continuously, prints leader changes and faults as they happen, and")
		fmt.Fprintln(stderr, "closes with a summary checked for linearizability.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent demo -duration 30s -nodes 3")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *nodes < 3 || *nodes > 9 {
		fmt.Fprintf(stderr, "ns-agent demo: -nodes %d: want 3 to 9\n", *nodes)
		return 2
	}
	if *strategy == "none" {
		*strategy = ""
	}
	if *strategy != "" {
		if _, err := model.New(*strategy, model.Options{}); err != nil {
			fmt.Fprintf(stderr, "ns-agent demo: -strategy: %v\n", err)
			return 2
		}
	}
	if *duration < 0 {
		fmt.Fprintf(stderr, "ns-agent demo: -duration must not be negative\n")
		return 2
	}
	interactive := *duration == 0

	var scen *sim.Scenario
	if *scenFile != "" {
		scs, diags := sim.ParseFile(*scenFile)
		if diags.HasErrors() {
			fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
			return 1
		}
		scen = scs[0]
	} else {
		scs, err := sim.LoadSuite(configs.Scenarios, "demo")
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
			return 1
		}
		scen = scs[0]
	}
	// The cluster size and length come from the flags; faults that name
	// nodes beyond the cluster are dropped.
	scen.Nodes, scen.Duration = *nodes, *duration
	if interactive {
		scen.Duration = 0 // no scheduled faults: the page injects them
	}
	scen = trimScenario(scen)

	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent demo: locate own binary: %v\n", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "ns-agent-demo-")
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
		return 1
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	var mu sync.Mutex
	start := time.Now()
	say := func(format string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(stdout, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, a...))
	}

	mesh := refcluster.NewMesh()
	defer mesh.Close()
	timing := refcluster.Timing{HeartbeatTimeout: *hbTO, ElectionTimeout: *hbTO}
	say("starting %d nodes (hashicorp/raft + raft-boltdb, one process each) in %s", *nodes, dir)
	sctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	ccfg := refcluster.ClusterConfig{Nodes: *nodes, Binary: self, Dir: dir, Timing: timing, Dial: mesh.Dial}
	var agents *refcluster.Agents
	if *strategy != "" {
		// One `ns-agent run` process beside each node, as in production:
		// the node links to it over a unix socket, and the agent writes
		// its recommendation log into the data dir.
		ids := make([]string, *nodes)
		for i := range ids {
			ids[i] = fmt.Sprintf("n%d", i+1)
		}
		agents, err = refcluster.StartAgents(sctx, refcluster.AgentsConfig{Binary: self, Dir: filepath.Join(dir, "agents"),
			IDs: ids, Recommender: *strategy})
		if err != nil {
			cancel()
			fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
			return 1
		}
		defer agents.Stop()
		ccfg.ExtraArgs = func(id string) []string { return []string{"-agent-addr", agents.Socket(id)} }
		say("started %d agents (%s through the default policy); follow them with:", *nodes, *strategy)
		say("  ns-agent tail -addr %s", agents.Socket("n1"))
	}
	cluster, err := refcluster.Start(sctx, ccfg)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
		return 1
	}
	defer cluster.Stop()
	lctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	leader, term, err := cluster.WaitLeader(lctx)
	cancel()
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent demo: %v\n", err)
		return 1
	}
	say("leader %s elected in term %d; %d links, each through its own proxy", leader, term, len(mesh.Links()))

	var dash *agent.Dashboard
	if *dashAddr != "off" && *dashAddr != "" {
		dash = agent.NewDashboard(fmt.Sprintf("ns-agent demo: %d nodes", *nodes), &demoControls{cluster: cluster, mesh: mesh, agents: agents})
		ln, err := net.Listen("tcp", *dashAddr)
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent demo: -dashboard: %v\n", err)
			return 1
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

	sch := refcluster.BuildSchedule(scen, *seed)
	say("scenario %q: %d fault events over %s (seed %d)", scen.Name, len(sch.Events), scen.Duration, *seed)
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
	if *strategy != "" {
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
					say("timeouts (%s agent): %s", *strategy, timeouts(runCtx, cluster))
				}
			}
		}()
	}
	rep := refcluster.RunWorkload(runCtx, cluster, refcluster.WorkloadConfig{Seed: *seed, Keys: keys, OnLeaderChange: func(ch refcluster.LeaderChange) {
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
	fmt.Fprintf(stdout, "  ran                  %s, %d nodes, heartbeat timeout %s\n", rep.Duration.Round(100*time.Millisecond), *nodes, effectiveTimeout(*hbTO))
	if *strategy != "" {
		fctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		fmt.Fprintf(stdout, "  agent timeouts now   %s (%s through the default policy)\n", timeouts(fctx, cluster), *strategy)
		cancel()
	}
	fmt.Fprintf(stdout, "  writes               %d ok of %d (%d unknown outcome)\n", rep.WritesOK, rep.Writes, rep.WritesUnknown)
	fmt.Fprintf(stdout, "  reads                %d ok of %d\n", rep.ReadsOK, rep.Reads)
	fmt.Fprintf(stdout, "  write unavailability %s total, %s longest\n", rep.Unavailable.Round(time.Millisecond), rep.LongestUnavailable.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  elections            %d (terms started)\n", rep.Elections)
	fmt.Fprintf(stdout, "  leader changes       %d\n", changes)
	fmt.Fprintf(stdout, "  linearizability      %s (%d operations, porcupine)\n", rep.Verdict, len(rep.History))
	if *keep {
		fmt.Fprintf(stdout, "  data and logs        %s\n", dir)
	}
	if rep.Verdict == refcluster.NotLinearizable {
		return 1
	}
	return 0
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

// trimScenario drops the parts of a scenario that name nodes beyond its
// (possibly reduced) size.
func trimScenario(s *sim.Scenario) *sim.Scenario {
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
