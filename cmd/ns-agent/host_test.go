//go:build !sidecar

package main

import (
	"strings"
	"testing"
	"time"
)

func TestSimAndBenchHostFlag(t *testing.T) {
	args := func(host string) []string {
		return []string{"sim", "-scenario", "leader-crash-lan", "-recommender", "random", "-seed", "1", "-host", host}
	}
	out, code := runCLI(t, time.Minute, args("etcd")...)
	if code != 0 || !strings.Contains(out, "etcd host") {
		t.Fatalf("exit %d: %s", code, out)
	}
	gen, _ := runCLI(t, time.Minute, append(args("generic"), "-json")...)
	hc, _ := runCLI(t, time.Minute, append(args("hashicorp"), "-json")...)
	if gen == hc {
		t.Fatalf("hashicorp's rules changed nothing: %s", gen)
	}
	if out, code := runCLI(t, 10*time.Second, args("raft")...); code != 2 || !strings.Contains(out, `unknown host "raft": have generic, hashicorp, etcd`) {
		t.Fatalf("exit %d: %s", code, out)
	}
	// Live, the host is the cluster that runs: hashicorp or etcd, not a model.
	if out, code := runCLI(t, 10*time.Second, "bench", "-live", "-host", "generic"); code != 2 || !strings.Contains(out, `-host "generic": with -live, want hashicorp or etcd`) {
		t.Fatalf("exit %d: %s", code, out)
	}
}
