package wait

import (
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeT records a failure instead of ending the test.
type fakeT struct {
	testing.TB
	failed string
}

func (f *fakeT) Helper()                           {}
func (f *fakeT) Fatalf(format string, args ...any) { f.failed = fmt.Sprintf(format, args...) }

// A condition that comes true is waited for, and its state returned.
func TestUntilReturnsTheState(t *testing.T) {
	var n atomic.Int32
	got := Until(t, 10*time.Second, "the third poll", func() (bool, int) {
		v := int(n.Add(1))
		return v == 3, v
	})
	if got != 3 {
		t.Fatalf("returned %d, want 3", got)
	}
}

// A condition that never comes true fails the test once the patience is
// spent, naming what was waited for and the last state.
func TestUntilFailsWithTheLastState(t *testing.T) {
	f := &fakeT{TB: t}
	calls := 0
	Until(f, 50*time.Millisecond, "never", func() (bool, int) { calls++; return false, 7 })
	if !strings.Contains(f.failed, "never") || !strings.HasSuffix(f.failed, "7") || calls < 2 {
		t.Fatalf("failure %q after %d calls", f.failed, calls)
	}
	f = &fakeT{TB: t}
	For(f, 20*time.Millisecond, "nothing", func() bool { return false })
	if !strings.Contains(f.failed, "nothing") || strings.Contains(f.failed, "last") {
		t.Fatalf("For's failure %q", f.failed)
	}
}

func TestInterval(t *testing.T) {
	for _, tc := range []struct{ d, want time.Duration }{
		{time.Second, 10 * time.Millisecond}, {10 * time.Second, 50 * time.Millisecond}, {5 * time.Minute, 250 * time.Millisecond},
	} {
		if got := interval(tc.d); got != tc.want {
			t.Errorf("interval(%s) = %s, want %s", tc.d, got, tc.want)
		}
	}
}
