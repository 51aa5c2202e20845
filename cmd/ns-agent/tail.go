package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

func runTail(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addrs addrFlag
	fs.Var(&addrs, "addr", "agent `address` to follow (unix:///path or host:port; repeatable); default: $NS_AGENT_ADDR, else every agent socket found in "+strings.Join(agent.SocketGlobs(), ", "))
	asJSON := fs.Bool("json", false, "print each decision as one JSON object")
	node := fs.String("node", "", "only this host `node`")
	replay := fs.Bool("replay", true, "start with the decisions the agent remembers")
	color := fs.String("color", "auto", "colour: auto, always or never")
	count := fs.Int("n", 0, "stop after this many decisions (0: follow until interrupted)")
	caFile := fs.String("ca-file", "", "TLS: the CA `file` that signs the agent's certificate (enables TLS)")
	certFile := fs.String("cert-file", "", "TLS: this client's certificate `file`, for agents that require one")
	keyFile := fs.String("key-file", "", "TLS: this client's key `file`")
	serverName := fs.String("tls-server-name", "", "TLS: the `name` the agent's certificate must carry (default: the address's host)")
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
	targets := []string(addrs)
	if len(targets) == 0 {
		for _, a := range strings.Split(os.Getenv("NS_AGENT_ADDR"), ",") {
			if a = strings.TrimSpace(a); a != "" {
				targets = append(targets, a)
			}
		}
	}
	if len(targets) == 0 {
		for _, dir := range agent.SocketGlobs() {
			socks, _ := filepath.Glob(dir)
			sort.Strings(socks)
			for _, s := range socks {
				targets = append(targets, "unix://"+s)
			}
		}
		if len(targets) == 0 {
			fmt.Fprintf(stderr, "ns-agent tail: no agent found (NS_AGENT_ADDR is empty; no socket in %s); name one with -addr\n", strings.Join(agent.SocketGlobs(), ", "))
			return 1
		}
	}
	var dial []grpc.DialOption
	if *caFile != "" || *certFile != "" {
		tc, err := agent.ClientTLS(*caFile, *certFile, *keyFile, *serverName)
		if err != nil {
			fmt.Fprintf(stderr, "ns-agent tail: %v\n", err)
			return 1
		}
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	}
	useColor := *color == "always" || (*color == "auto" && isTerminal(stdout))
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()

	var (
		mu   sync.Mutex
		seen int
		wg   sync.WaitGroup
	)
	print := func(ev *nsraftv1.DecisionEvent) {
		mu.Lock()
		defer mu.Unlock()
		if *count > 0 && seen >= *count {
			return
		}
		if *asJSON {
			b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintln(stdout, agent.FormatDecision(ev, useColor))
		}
		seen++
		if *count > 0 && seen >= *count {
			cancel()
		}
	}
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			agent.Follow(ctx, t, &nsraftv1.WatchRequest{Node: *node, Replay: *replay}, 5*time.Second, print,
				func(err error, retryIn time.Duration) {
					fmt.Fprintf(stderr, "ns-agent tail: %s: %v; retrying in %s\n", t, err, retryIn)
				}, dial...)
		}()
	}
	wg.Wait()
	return 0
}

// addrFlag is the repeatable -addr.
type addrFlag []string

func (a *addrFlag) String() string     { return strings.Join(*a, ",") }
func (a *addrFlag) Set(s string) error { *a = append(*a, s); return nil }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
