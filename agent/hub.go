package agent

import (
	"sync"

	"github.com/nsraft/nsraft/api"
	"github.com/nsraft/nsraft/api/nsraftv1"
)

// hub fans decisions out to watchers. Publishing never blocks: a watcher
// that falls behind by more than its buffer loses the oldest events it has
// not read, so what it reads next is where the node is now rather than
// where it was (a tail or a dashboard shows the timeout in force, not a
// stale one). Each lost event counts in the hub's drop count. It keeps the
// most recent events for replay.
type hub struct {
	mu      sync.Mutex
	subs    map[*watcher]struct{}
	ring    []*nsraftv1.DecisionEvent
	next    int
	full    bool
	dropped uint64
}

type watcher struct {
	node string
	ch   chan *nsraftv1.DecisionEvent
}

// watcherBuffer events wait for a slow watcher before it starts losing
// them; small, since MaxWatchers of them may be stalled at once.
const watcherBuffer = 64

func newHub(history int) *hub {
	return &hub{subs: map[*watcher]struct{}{}, ring: make([]*nsraftv1.DecisionEvent, history)}
}

func (h *hub) publish(r *Record) {
	ev := Event(r)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.ring[h.next] = ev
	h.next = (h.next + 1) % len(h.ring)
	if h.next == 0 {
		h.full = true
	}
	for w := range h.subs {
		if w.node != "" && w.node != ev.Node {
			continue
		}
		select {
		case w.ch <- ev:
		default:
			// Full: make room by dropping the oldest unread event. Only
			// publish sends, under h.mu, so the second send cannot block;
			// the watcher may have read one in between, then nothing is
			// lost.
			select {
			case <-w.ch:
				h.dropped++
			default:
			}
			select {
			case w.ch <- ev:
			default:
				h.dropped++
			}
		}
	}
}

// subscribe registers a watcher; with replay, the remembered events come
// first. cancel unregisters it.
func (h *hub) subscribe(node string, replay bool) (w *watcher, cancel func()) {
	w = &watcher{node: node, ch: make(chan *nsraftv1.DecisionEvent, watcherBuffer)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if replay {
		start, n := 0, h.next
		if h.full {
			start, n = h.next, len(h.ring)
		}
		// Only what fits the buffer, the newest: a send that blocked
		// here, under the lock, would stop every publish with it.
		var evs []*nsraftv1.DecisionEvent
		for i := 0; i < n; i++ {
			if ev := h.ring[(start+i)%len(h.ring)]; node == "" || ev.Node == node {
				evs = append(evs, ev)
			}
		}
		for _, ev := range evs[max(0, len(evs)-cap(w.ch)):] {
			w.ch <- ev
		}
	}
	h.subs[w] = struct{}{}
	return w, func() {
		h.mu.Lock()
		delete(h.subs, w)
		h.mu.Unlock()
	}
}

func (h *hub) watchers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.subs)
}

// Event renders a decision record as the protocol's DecisionEvent.
func Event(r *Record) *nsraftv1.DecisionEvent {
	d := &r.Decision
	ev := &nsraftv1.DecisionEvent{
		AtUnixNano: r.At.UnixNano(), Node: r.Node, HostKind: string(r.HostKind), Sample: api.FromSample(r.Sample),
		Recommender: r.Recommender, ProposalNs: int64(r.Proposal.Timeout), Confidence: r.Proposal.Confidence,
		ProposalReason: r.Proposal.Reason, DecisionNs: int64(d.Timeout), Held: d.Held, Unstable: d.Unstable,
		Live: r.Live, Applied: r.Applied, Error: r.Err, MinNs: int64(r.Min), MaxNs: int64(r.Max), PreviousNs: int64(r.Previous), Advice: join(r.Advice, r.Handoff),
	}
	if r.HandoffState != nil {
		ev.Handoff = &nsraftv1.Handoff{Degraded: r.HandoffState.Degraded, Planned: r.HandoffState.Planned,
			Note: r.Handoff, Moves: int64(r.HandoffState.Moves)}
	}
	for _, c := range d.Checks() {
		ev.Checks = append(ev.Checks, &nsraftv1.Check{Name: c.Name, Pos: c.Pos.String(), Effect: c.Effect.String(), Reason: c.Reason()})
	}
	return ev
}
