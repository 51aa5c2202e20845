package agent

import (
	"testing"
	"time"
)

// A watcher that reads nothing while more than its buffer is published
// keeps the newest events, in order, and the hub counts each one it lost.
func TestHubSlowWatcherLosesTheOldest(t *testing.T) {
	h := newHub(8)
	w, cancel := h.subscribe("", false)
	defer cancel()
	const extra = 10
	base := time.Unix(1000, 0)
	for i := 0; i < watcherBuffer+extra; i++ {
		h.publish(&Record{At: base.Add(time.Duration(i) * time.Second), Node: "n1"})
	}
	if h.dropped != extra {
		t.Fatalf("dropped %d, want %d", h.dropped, extra)
	}
	for i := extra; i < watcherBuffer+extra; i++ {
		select {
		case ev := <-w.ch:
			if want := base.Add(time.Duration(i) * time.Second).UnixNano(); ev.AtUnixNano != want {
				t.Fatalf("read event %d, want %d", (ev.AtUnixNano-base.UnixNano())/int64(time.Second), i)
			}
		default:
			t.Fatalf("only %d events buffered, want %d", i-extra, watcherBuffer)
		}
	}
	// A watcher of another node is not affected.
	other, cancelOther := h.subscribe("n2", false)
	defer cancelOther()
	h.publish(&Record{At: base, Node: "n1"})
	if len(other.ch) != 0 || h.dropped != extra {
		t.Fatalf("other node's watcher got %d events, dropped %d", len(other.ch), h.dropped)
	}
}
