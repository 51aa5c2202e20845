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
	if out, code := runCLI(t, 10*time.Second, "bench", "-live", "-host", "etcd"); code != 2 || !strings.Contains(out, "-host chooses the simulator's host model") {
		t.Fatalf("exit %d: %s", code, out)
	}
}
