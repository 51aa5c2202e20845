package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nsraft/nsraft/api/nsraftv1"
)

// TailOptions is one `ns-agent tail`.
type TailOptions struct {
	// Addrs are the agents to follow; none: those of Env (comma-separated,
	// $NS_AGENT_ADDR), else every agent socket in SocketGlobs.
	Addrs  []string
	Env    string
	JSON   bool   // one protojson object per decision
	Node   string // only this host node
	Replay bool   // start with the decisions the agent remembers
	Color  string // auto, always or never
	Count  int    // stop after this many decisions; 0: follow until ctx ends
	// TLS: a CA file enables it; Cert and Key for agents that require a
	// client certificate; ServerName overrides the address's host.
	CAFile, CertFile, KeyFile, ServerName string
}

// ErrNoAgent is returned by Tail when it has nothing to follow.
var ErrNoAgent = errors.New("no agent found")

// targets resolves the agents to follow.
func (o TailOptions) targets() []string {
	targets := append([]string(nil), o.Addrs...)
	if len(targets) == 0 {
		for _, a := range strings.Split(o.Env, ",") {
			if a = strings.TrimSpace(a); a != "" {
				targets = append(targets, a)
			}
		}
	}
	if len(targets) == 0 {
		for _, dir := range SocketGlobs() {
			socks, _ := filepath.Glob(dir)
			sort.Strings(socks)
			for _, s := range socks {
				targets = append(targets, "unix://"+s)
			}
		}
	}
	return targets
}

// Tail follows the decision streams of running agents and writes one line
// (FormatDecision, or JSON) per decision to stdout, until ctx ends or
// o.Count decisions were written; it reports each broken stream and its
// retry on stderr.
func Tail(ctx context.Context, o TailOptions, stdout, stderr io.Writer) error {
	targets := o.targets()
	if len(targets) == 0 {
		return fmt.Errorf("%w (NS_AGENT_ADDR is empty; no socket in %s); name one with -addr", ErrNoAgent, strings.Join(SocketGlobs(), ", "))
	}
	var dial []grpc.DialOption
	if o.CAFile != "" || o.CertFile != "" {
		tc, err := ClientTLS(o.CAFile, o.CertFile, o.KeyFile, o.ServerName)
		if err != nil {
			return err
		}
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	}
	useColor := o.Color == "always" || (o.Color == "auto" && isTerminal(stdout))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		mu   sync.Mutex
		seen int
		wg   sync.WaitGroup
	)
	print := func(ev *nsraftv1.DecisionEvent) {
		mu.Lock()
		defer mu.Unlock()
		if o.Count > 0 && seen >= o.Count {
			return
		}
		if o.JSON {
			b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(ev)
			fmt.Fprintln(stdout, string(b))
		} else {
			fmt.Fprintln(stdout, FormatDecision(ev, useColor))
		}
		seen++
		if o.Count > 0 && seen >= o.Count {
			cancel()
		}
	}
	for _, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			Follow(ctx, t, &nsraftv1.WatchRequest{Node: o.Node, Replay: o.Replay}, 5*time.Second, print,
				func(err error, retryIn time.Duration) {
					fmt.Fprintf(stderr, "ns-agent tail: %s: %v; retrying in %s\n", t, err, retryIn)
				}, dial...)
		}()
	}
	wg.Wait()
	return nil
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
