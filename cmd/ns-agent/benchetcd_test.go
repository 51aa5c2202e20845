//go:build !sidecar

package main

import (
	"strings"
	"testing"
	"time"
)

// bench -live -host: an unknown host and a missing etcd binary are usage
// errors (exit 2) that say what to give.
func TestBenchLiveHostErrors(t *testing.T) {
	out, code := runCLI(t, 30*time.Second, "bench", "-live", "-host", "zookeeper")
	if code != 2 || !strings.Contains(out, `-host "zookeeper": with -live, want hashicorp or etcd`) {
		t.Errorf("unknown host: exit %d: %s", code, out)
	}
	out, code = runCLI(t, 30*time.Second, "bench", "-live", "-host", "etcd", "-etcd", "")
	if code != 2 || !strings.Contains(out, "no etcd binary: give -etcd BIN or set NSRAFT_ETCD") {
		t.Errorf("no etcd: exit %d: %s", code, out)
	}
}
