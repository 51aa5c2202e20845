package main

import (
	"context"
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

	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nsraft/nsraft/agent"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

func runTail(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tail", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var addrs multiFlag
	fs.Var(&addrs, "addr", "agent `address` to follow (unix:///path or host:port; repeatable); default: every socket matching "+filepath.Join(agent.DefaultSocketDir(), "*.sock"))
	asJSON := fs.Bool("json", false, "print each decision as one JSON object")
	node := fs.String("node", "", "only this host `node`")
	replay := fs.Bool("replay", true, "start with the decisions the agent remembers")
	color := fs.String("color", "auto", "colour: auto, always or never")
	count := fs.Int("n", 0, "stop after this many decisions (0: follow until interrupted)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: ns-agent tail [-addr A]... [-json] [-node N]")
		fmt.Fprintln(stderr, "\nFollow the decisions of running agents, one line each: changes are marked")
		fmt.Fprintln(stderr, "▲/▼, and the rules that moved or held the value are named.")
		fmt.Fprintln(stderr, "\nExample:\n  ns-agent tail -addr unix:///run/ns-agent/n1.sock")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return 2
	}
	targets := []string(addrs)
	if len(targets) == 0 {
		socks, _ := filepath.Glob(filepath.Join(agent.DefaultSocketDir(), "*.sock"))
		sort.Strings(socks)
		for _, s := range socks {
			targets = append(targets, "unix://"+s)
		}
		if len(targets) == 0 {
			fmt.Fprintf(stderr, "ns-agent tail: no agent found at %s; name one with -addr\n", filepath.Join(agent.DefaultSocketDir(), "*.sock"))
			return 1
		}
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
			fmt.Fprintln(stdout, formatDecision(ev, useColor))
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
				})
		}()
	}
	wg.Wait()
	return 0
}

const (
	ansiReset  = "\x1b[0m"
	ansiDim    = "\x1b[2m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
	ansiBold   = "\x1b[1m"
)

// formatDecision renders one decision as a line: time, node, role and
// term, what was observed, what was proposed, what was decided (with ▲/▼
// when it moved) and the rules that moved or held it.
func formatDecision(ev *nsraftv1.DecisionEvent, color bool) string {
	c := func(code, s string) string {
		if !color {
			return s
		}
		return code + s + ansiReset
	}
	s := ev.GetSample()
	var b strings.Builder
	fmt.Fprintf(&b, "%s %-4s %-9s t%-3d", c(ansiDim, time.Unix(0, ev.AtUnixNano).Format("15:04:05.000")), ev.Node, s.GetRole(), s.GetTerm())
	if s.HeartbeatGapNs != nil {
		fmt.Fprintf(&b, " gap %-7s", dur(s.GetHeartbeatGapNs()))
	} else {
		b.WriteString(" gap -      ")
	}
	if s.Rtt != nil {
		fmt.Fprintf(&b, " rtt99 %-7s", dur(s.Rtt.P99Ns))
	} else {
		b.WriteString(" rtt99 -      ")
	}
	fmt.Fprintf(&b, " %s %s (%.2f)", ev.Recommender, dur(ev.ProposalNs), ev.Confidence)
	decided := dur(ev.DecisionNs)
	switch {
	case ev.PreviousNs == 0 || ev.DecisionNs == ev.PreviousNs:
		fmt.Fprintf(&b, " → %s", c(ansiBold, decided))
	case ev.DecisionNs > ev.PreviousNs:
		fmt.Fprintf(&b, " → %s", c(ansiYellow, decided+" ▲"+dur(ev.DecisionNs-ev.PreviousNs)))
	default:
		fmt.Fprintf(&b, " → %s", c(ansiGreen, decided+" ▼"+dur(ev.PreviousNs-ev.DecisionNs)))
	}
	fmt.Fprintf(&b, " [%s..%s]", dur(ev.MinNs), dur(ev.MaxNs))
	var hits []string
	for _, ch := range ev.Checks {
		if ch.Effect == "changed" || ch.Effect == "held" {
			hits = append(hits, ch.Name+" @"+ch.Pos)
		}
	}
	if len(hits) > 0 {
		b.WriteString(" " + c(ansiCyan, strings.Join(hits, ", ")))
	}
	switch {
	case ev.Error != "":
		b.WriteString(" " + c(ansiRed, "not applied: "+ev.Error))
	case !ev.Live:
		b.WriteString(" advisory")
	}
	return b.String()
}

// dur renders nanoseconds compactly: 412ms, 1.2s, 850µs.
func dur(ns int64) string {
	d := time.Duration(ns)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d >= time.Millisecond:
		return fmt.Sprintf("%.1fms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%dµs", d.Microseconds())
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
