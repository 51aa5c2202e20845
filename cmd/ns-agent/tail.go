package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/internal/exitcode"
)

// addrFlag is the repeatable -addr.
type addrFlag []string

func (a *addrFlag) String() string     { return strings.Join(*a, ",") }
func (a *addrFlag) Set(s string) error { *a = append(*a, s); return nil }

func runTail(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addrs addrFlag
	o := agent.TailOptions{Env: os.Getenv("NS_AGENT_ADDR")}
	fs.Var(&addrs, "addr", "agent `address` to follow (unix:///path or host:port; repeatable); default: $NS_AGENT_ADDR, else every agent socket found in "+strings.Join(agent.SocketGlobs(), ", "))
	fs.BoolVar(&o.JSON, "json", false, "print each decision as one JSON object")
	fs.StringVar(&o.Node, "node", "", "only this host `node`")
	fs.BoolVar(&o.Replay, "replay", true, "start with the decisions the agent remembers")
	fs.StringVar(&o.Color, "color", "auto", "colour: auto, always or never")
	fs.IntVar(&o.Count, "n", 0, "stop after this many decisions (0: follow until interrupted)")
	fs.StringVar(&o.CAFile, "ca-file", "", "TLS: the CA `file` that signs the agent's certificate (enables TLS)")
	fs.StringVar(&o.CertFile, "cert-file", "", "TLS: this client's certificate `file`, for agents that require one")
	fs.StringVar(&o.KeyFile, "key-file", "", "TLS: this client's key `file`")
	fs.StringVar(&o.ServerName, "tls-server-name", "", "TLS: the `name` the agent's certificate must carry (default: the address's host)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent tail [-addr A]... [-json] [-node N] [-ca-file F [-cert-file F -key-file F]]")
		fmt.Fprintln(stderr, "\nFollow the decisions of running agents, one line each: changes are marked")
		fmt.Fprintln(stderr, "▲/▼, and the rules that moved or held the value are named. Without -addr it")
		fmt.Fprintln(stderr, "follows $NS_AGENT_ADDR (comma-separated), else every agent socket it finds.")
		fmt.Fprintln(stderr, "\nExamples:\n  ns-agent tail -addr unix:///run/ns-agent/n1.sock")
		fmt.Fprintln(stderr, "  NS_AGENT_ADDR=10.0.0.5:7946 ns-agent tail -ca-file ca.pem -cert-file me.pem -key-file me-key.pem")
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	o.Addrs = addrs
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	return exitcode.Report(stderr, "ns-agent tail", agent.Tail(ctx, o, stdout, stderr))
}
