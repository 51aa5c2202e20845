package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/configs"
	"github.com/nsraft/nsraft/policy"
)

func runAdvise(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("advise", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "an etcd agent's configuration `file`: its endpoint, flags, policy, TLS and advice settings")
	endpoint := fs.String("endpoint", "", "a member's client `URL` (without -config)")
	hb := fs.Duration("heartbeat", 100*time.Millisecond, "the members' --heartbeat-interval (without -config)")
	et := fs.Duration("election", time.Second, "the members' --election-timeout (without -config)")
	pol := fs.String("policy", "", "policy `file` whose bounds the advice keeps (default: the embedded policy)")
	minEv := fs.Duration("min-evidence", 0, "least span of metrics before advising a change (default 10m)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent advise (-config FILE | -endpoint URL [-heartbeat D -election D -policy FILE])")
		fmt.Fprintln(stderr, "\nRead every member's /metrics of a running etcd cluster once and print the")
		fmt.Fprintln(stderr, "--heartbeat-interval and --election-timeout an agent beside it would advise,")
		fmt.Fprintln(stderr, "with the evidence. Exit 0 with advice, 1 when the cluster cannot be read.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent advise -endpoint http://10.0.0.1:2379 -heartbeat 100ms -election 1s")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || (*file == "") == (*endpoint == "") {
		fs.Usage()
		return 2
	}
	var cfg *agent.FileConfig
	if *file != "" {
		c, diags := agent.LoadConfig(*file)
		if diags.HasErrors() {
			fmt.Fprint(stderr, configs.FormatDiagnostics(diags))
			return 1
		}
		cfg = c
	} else {
		cfg = &agent.FileConfig{HostKind: policy.HostEtcd, HostAddress: *endpoint, HostHeartbeat: *hb, HostElection: *et, PolicyFile: *pol}
	}
	if *minEv > 0 {
		cfg.AdviceMinEvidence = *minEv
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rec, rd, err := agent.Advise(ctx, cfg, time.Now())
	if err != nil {
		fmt.Fprintf(stderr, "ns-agent advise: %v\n", err)
		return 1
	}
	fmt.Fprint(stdout, agent.AdviceReport(rec, rd))
	return 0
}
