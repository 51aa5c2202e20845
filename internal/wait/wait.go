// Package wait is how this module's tests poll for a condition: it waits
// for a condition on real processes, sockets or goroutines until it holds
// or a deadline passes, and then fails the test saying what it waited for
// and where things stood.
//
// It reads the wall clock on purpose: it waits for real things. Code under
// test takes its clock as a parameter instead. wait imports nothing of
// this module; only tests import it.
package wait

import (
	"testing"
	"time"
)

// interval is how often a condition is polled: a two-hundredth of the
// patience, within [10ms, 250ms], so short waits react quickly and long
// ones do not spin.
func interval(d time.Duration) time.Duration {
	return min(max(d/200, 10*time.Millisecond), 250*time.Millisecond)
}

// For polls ok until it returns true, and fails t if it has not after d.
func For(t testing.TB, d time.Duration, what string, ok func() bool) {
	t.Helper()
	Until(t, d, what, func() (bool, any) { return ok(), nil })
}

// Until polls cond until it reports done, and returns the state it
// reported then. If it has not after d, it fails t with what and the last
// state (when not nil). cond is always called at least once.
func Until[S any](t testing.TB, d time.Duration, what string, cond func() (done bool, state S)) S {
	t.Helper()
	deadline := time.Now().Add(d)
	every := interval(d)
	for {
		done, state := cond()
		if done {
			return state
		}
		if time.Now().After(deadline) {
			if any(state) != nil {
				t.Fatalf("timed out after %s waiting for %s; last: %v", d, what, state)
			} else {
				t.Fatalf("timed out after %s waiting for %s", d, what)
			}
			return state
		}
		time.Sleep(every)
	}
}
