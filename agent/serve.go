package agent

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"syscall"

	"github.com/nsraft/nsraft/policy"
)

// Serve is `ns-agent run`: it starts the daemon cfg describes, says where
// it listens on stdout, reports ready to systemd (SDNotify), and runs
// until a signal other than SIGHUP arrives on signals; each SIGHUP
// reloads the policy and weights (an invalid file keeps the old ones and
// is reported on stderr). cfg must name its node.
func Serve(cfg *FileConfig, stdout, stderr io.Writer, signals <-chan os.Signal) error {
	d, err := Start(cfg, stderr)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "agent %s ready: grpc %s, http %s\n", cfg.Node, d.GRPCAddr(), orNone(d.HTTPAddr()))
	switch cfg.HostKind {
	case policy.HostHashicorp, policy.HostEtcdRaft:
		// These hosts link to the agent: until one does, nothing is decided.
		fmt.Fprintf(stdout, "waiting for node %s to connect on %s (adapter/hashicorp's Attach, or etcd.Connect for a go.etcd.io/raft tick driver); no decisions until it does\n",
			cfg.Node, d.GRPCAddr())
	default:
		fmt.Fprintf(stdout, "polling the %s server at %s every %s\n", cfg.HostKind, orNone(cfg.HostAddress), cfg.Tick)
	}
	notify := func(state string) {
		if _, err := SDNotify(state); err != nil {
			fmt.Fprintf(stderr, "ns-agent run: telling systemd %s: %v\n", state, err)
		}
	}
	notify("READY=1")
	for s := range signals {
		if s == syscall.SIGHUP {
			notify("RELOADING=1")
			if err := d.Reload(); err != nil {
				fmt.Fprintf(stderr, "ns-agent run: reload: %v (keeping the old configuration)\n", err)
			}
			notify("READY=1")
			continue
		}
		break
	}
	notify("STOPPING=1")
	d.Close()
	return nil
}

// Memory defaults for a sidecar that runs for months beside its node,
// each overridden by the Go runtime's own environment variable. The live
// heap is about 5 MB (mostly the dashboard's replay buffer and protobuf
// descriptors); Go's default GOGC=100 lets the heap reach twice that
// before collecting, and the runtime keeps freed pages mapped for a while.
// GOGC=50 (a heap goal of 1.5x live) costs a collection every few seconds
// at a 100 ms tick, and the 24 MiB soft limit makes the runtime collect
// and return pages to the OS well before the systemd unit's MemoryMax=64M,
// whatever a flood of clients leaves behind.
const (
	sidecarGCPercent   = 50
	sidecarMemoryLimit = 24 << 20
)

// SidecarMemory applies the sidecar's memory defaults where GOGC and
// GOMEMLIMIT are unset. It changes the whole process: `ns-agent run`
// calls it, a test that serves an agent need not.
func SidecarMemory() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(sidecarGCPercent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(sidecarMemoryLimit)
	}
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
