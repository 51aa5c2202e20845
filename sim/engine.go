package sim

import (
	"math/rand/v2"
	"slices"
	"time"
)

// The engine is a discrete-event loop over a heap of events ordered by
// (time, sequence number), so events at the same instant run in the order
// they were scheduled and a run is a pure function of the scenario, the
// options and the seed.

type eventKind uint8

const (
	evDeliver    eventKind = iota // a message arrives at its destination
	evTimer                       // a node's election timer may fire
	evHeartbeat                   // the leader sends heartbeats
	evTick                        // every node takes a sample
	evCrash                       // the leader crashes
	evRestart                     // a crashed node restarts
	evPause                       // a node stops the world
	evResume                      // a paused node resumes
	evBurstStart                  // a correlated burst begins
	evBurstEnd                    // … and ends
	evPartition                   // a partition starts
	evHeal                        // … and heals
	evClient                      // a client request arrives
	evEnd                         // the end of the run
	evLease                       // hashicorp/raft: the leader checks its lease
	evRPCTimeout                  // hashicorp/raft: a heartbeat RPC timed out
	evHostTick                    // go.etcd.io/raft: a node's tick
)

type event struct {
	at   time.Duration
	seq  uint64
	kind eventKind
	node int
	gen  uint64 // timer / heartbeat generation; partition index
	msg  message
	peer int    // hashicorp/raft: the follower a heartbeat loop serves
	beat uint64 // … and which of its heartbeats
}

type msgKind uint8

const (
	msgAppend msgKind = iota // heartbeat / AppendEntries
	msgAppendResp
	msgPreVote
	msgPreVoteResp
	msgVote
	msgVoteResp
	msgProbe
	msgProbeResp

	// Not messages: the other draws a run keys like a message's fate
	// (see fates), so that they too are paired across strategies.
	drawTimer      // a node's election timer: [T, 2T), etcd's [E, 2E)
	drawHostWait   // hashicorp/raft's heartbeat loop wait, leader→follower
	drawRetransmit // a TCP retransmission's fate (hashicorp/raft host)
)

type message struct {
	kind     msgKind
	from, to int
	term     uint64
	index    uint64 // AE: leader's last index; vote: candidate's last index; resp: match index
	commit   uint64 // AE: leader's commit index
	granted  bool
	sentAt   time.Duration // for round-trip measurement
	echoSent time.Duration // responses: the request's sentAt
	// arrivedAt is when a message reached a paused node (handled only
	// on resume); held, in a response, is how long the request waited.
	arrivedAt, held time.Duration
	// hb marks a hashicorp/raft heartbeat RPC and its answer, seq which
	// one of its follower's loop.
	hb  bool
	seq uint64
}

// rngs are independent random streams, one per concern, so that changing
// what one concern draws does not perturb another: the fault schedule,
// the clients and the machines' load are the same for every strategy on
// a seed. The network, the election timers and the hashicorp/raft host's
// draws come from fates, keyed per message or per timer.
type rngs struct {
	fault, client, load *rand.Rand
}

func newRNGs(seed uint64) rngs {
	mk := func(stream uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, stream)) }
	return rngs{fault: mk(3), client: mk(4), load: mk(5)}
}

// fates draws each message's fate on the network (its jitter, tail and
// loss) from a stream keyed by what the message is and when it is sent:
// its link, its kind, the heartbeat interval it is sent in and its place
// among that link's messages of that kind in the interval. A node's
// election timer draws ([T, 2T), etcd's [E, 2E)) are keyed the same way,
// as a kind of their own on the link from the node to itself, and so are
// the hashicorp/raft host's heartbeat waits and TCP retransmissions.
// Every message still gets its own independent draws, so the network is
// the same random model as one shared stream gives. What changes is across runs:
// two strategies on the same seed that send a heartbeat on the same link
// in the same interval see the same fate, instead of fates that shift
// with every pre-vote or probe one of them sent earlier; a follower
// whose timer restarts in the same interval of both runs draws the same
// point in [T, 2T), so who fires first after a leader dies is no longer
// a lottery that one strategy's extra pre-vote reshuffles. Comparisons
// between strategies are then paired on the network's luck (common
// random numbers): on the bursty WAN, whether a burst's losses happen to
// cost a leader its lease no longer depends on the strategy's traffic.
type fates struct {
	seed   uint64
	bucket time.Duration
	nodes  int
	last   []fateSlot // [from][to][kind]
	pcg    rand.PCG
	r      *rand.Rand
}

type fateSlot struct {
	bucket int64
	n      uint64
}

const numKinds = int(drawRetransmit) + 1

func newFates(seed uint64, nodes int, bucket time.Duration) *fates {
	f := &fates{seed: seed, bucket: max(bucket, time.Millisecond), nodes: nodes, last: make([]fateSlot, nodes*nodes*numKinds)}
	for i := range f.last {
		f.last[i].bucket = -1
	}
	f.r = rand.New(&f.pcg)
	return f
}

// of returns the stream of the message of kind k sent from→to at now. It
// is valid until the next call.
func (f *fates) of(from, to int, k msgKind, now time.Duration) *rand.Rand {
	b := int64(now / f.bucket)
	sl := &f.last[(from*f.nodes+to)*numKinds+int(k)]
	if sl.bucket != b {
		sl.bucket, sl.n = b, 0
	}
	idx := sl.n
	sl.n++
	key := uint64(from)<<40 | uint64(to)<<16 | uint64(k)
	f.pcg.Seed(mix64(f.seed^mix64(key)), mix64(uint64(b)^mix64(idx+0x9e3779b97f4a7c15)))
	return f.r
}

// mix64 is splitmix64's finalizer: a bijection that spreads every input
// bit over the output.
func mix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

func expDur(r *rand.Rand, mean time.Duration) time.Duration {
	return time.Duration(r.ExpFloat64() * float64(mean))
}

// network holds the per-link models and the fault state that changes them.
type network struct {
	links     [][]Network // [from][to]
	burst     *Burst
	inBurst   bool
	cut       [][]bool // partitions: cut[a][b] means a→b is down
	procDelay []time.Duration
	duration  time.Duration // of the run, for drift
	// Per node, the schedule of noisy-neighbour episodes and disk stalls,
	// drawn up front (see schedule.go).
	noisy, stalls [][]span
	noisySpec     []NodeSpec
}

func newNetwork(s *Scenario, seed uint64) *network {
	n := s.Nodes
	nw := &network{burst: s.Network.Burst, links: make([][]Network, n), cut: make([][]bool, n), procDelay: make([]time.Duration, n),
		duration: s.Duration, noisy: make([][]span, n), stalls: make([][]span, n), noisySpec: make([]NodeSpec, n)}
	ids := s.NodeIDs()
	for i := 0; i < n; i++ {
		nw.links[i] = make([]Network, n)
		nw.cut[i] = make([]bool, n)
		for j := 0; j < n; j++ {
			nw.links[i][j] = s.LinkNetwork(ids[i], ids[j])
		}
		spec := s.Node(ids[i])
		// Message handling costs a node 0.2ms of work; slowdown scales it.
		nw.procDelay[i] = time.Duration(float64(200*time.Microsecond) * spec.Slowdown)
		nw.noisySpec[i] = spec
		nw.noisy[i] = schedule(seed, 6, i, spec.NoisyEvery, spec.NoisyLength, s.Duration)
		nw.stalls[i] = schedule(seed, 7, i, spec.DiskStallEvery, spec.DiskStall, s.Duration)
	}
	return nw
}

// delay draws the one-way delay of a message sent on link from→to at now,
// or reports it lost.
func (nw *network) delay(r *rand.Rand, from, to int, now time.Duration) (time.Duration, bool) {
	if nw.cut[from][to] {
		return 0, false
	}
	l := &nw.links[from][to]
	loss := l.Loss
	d := l.Delay
	if l.Drift > 0 && nw.duration > 0 {
		d += time.Duration(float64(l.Drift) * min(1, float64(now)/float64(nw.duration)))
	}
	if l.Jitter > 0 {
		d += time.Duration((r.Float64()*2 - 1) * float64(l.Jitter))
	}
	if l.TailProb > 0 && r.Float64() < l.TailProb {
		d += expDur(r, l.TailDelay)
	}
	if nw.inBurst && nw.burst != nil {
		d += nw.burst.ExtraDelay
		loss = 1 - (1-loss)*(1-nw.burst.Loss)
	}
	if loss > 0 && r.Float64() < loss {
		return 0, false
	}
	if d < 0 {
		d = 0
	}
	// A sender in a disk stall holds what it sends until the stall ends;
	// a receiver with a noisy neighbour handles messages slower.
	if sp, ok := active(nw.stalls[from], now); ok {
		d += sp.end - now
	}
	proc := nw.procDelay[to]
	if _, ok := active(nw.noisy[to], now); ok {
		proc = time.Duration(float64(proc) * nw.noisySpec[to].NoisySlowdown)
	}
	return d + proc, true
}

// busy is the CPU share (percent) a node's noisy neighbour takes at now,
// and the factor by which it slows the node's own work.
func (nw *network) busy(node int, now time.Duration) (pct, slowdown float64) {
	if _, ok := active(nw.noisy[node], now); ok {
		return nw.noisySpec[node].NoisyBusy, nw.noisySpec[node].NoisySlowdown
	}
	return 0, 1
}

// reachable reports whether a and b can exchange messages in both
// directions at this instant (partitions only; loss and delay do not cut).
func (nw *network) reachable(a, b int) bool { return a == b || (!nw.cut[a][b] && !nw.cut[b][a]) }

// queue is a binary min-heap of events by (at, seq). The heap orders small
// keys while the events themselves stay put in slots (an event is 160
// bytes; sifting keys moves a sixth of that), and nothing is boxed in an
// interface, so a push or a pop allocates nothing once the slots have
// grown. Sequence numbers are unique, so the order of pops is the same as
// any other correct priority queue's.
type queue struct {
	keys  []qkey
	slots []event
	free  []int32
}

type qkey struct {
	at   time.Duration
	seq  uint64
	slot int32
}

func (k qkey) less(o qkey) bool {
	if k.at != o.at {
		return k.at < o.at
	}
	return k.seq < o.seq
}

func (q *queue) push(e event) {
	var slot int32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.slots[slot] = e
	} else {
		slot = int32(len(q.slots))
		q.slots = append(q.slots, e)
	}
	k := qkey{at: e.at, seq: e.seq, slot: slot}
	// Sift up: move parents down into the hole until k fits.
	i := len(q.keys)
	q.keys = append(q.keys, k)
	for i > 0 {
		parent := (i - 1) / 2
		if !k.less(q.keys[parent]) {
			break
		}
		q.keys[i] = q.keys[parent]
		i = parent
	}
	q.keys[i] = k
}

// pop removes and returns the earliest event; the queue must not be empty.
func (q *queue) pop() event {
	top := q.keys[0]
	last := len(q.keys) - 1
	k := q.keys[last]
	q.keys = q.keys[:last]
	if last > 0 {
		// Sift down: move the smaller child up into the hole until k fits.
		i := 0
		for {
			c := 2*i + 1
			if c >= last {
				break
			}
			if r := c + 1; r < last && q.keys[r].less(q.keys[c]) {
				c = r
			}
			if !q.keys[c].less(k) {
				break
			}
			q.keys[i] = q.keys[c]
			i = c
		}
		q.keys[i] = k
	}
	q.free = append(q.free, top.slot)
	return q.slots[top.slot]
}

func (q *queue) len() int { return len(q.keys) }

// minDelay is the one-way delay the oracle's recovery traffic takes on
// link from→to (recoveryDelay), or false when the link is cut.
func (nw *network) minDelay(from, to int) (time.Duration, bool) {
	if nw.cut[from][to] {
		return 0, false
	}
	return nw.recoveryDelay(), true
}

// recoveryDelay is half the shortest round trip in which some node can
// reach quorum−1 peers, at the links' base delay less jitter, with no tail
// and no loss, plus the burst's extra delay while one lasts. Whichever node
// a real strategy had leading when a fault struck (and so whichever nodes
// survived), its election needs at least such a round trip per round:
// that is what makes the oracle a lower bound whatever the placement.
func (nw *network) recoveryDelay() time.Duration {
	n := len(nw.links)
	need := n / 2 // quorum−1 peers
	best := time.Duration(-1)
	rts := make([]time.Duration, 0, n)
	for c := 0; c < n; c++ {
		rts = rts[:0]
		for p := 0; p < n; p++ {
			if p == c {
				continue
			}
			there, back := &nw.links[c][p], &nw.links[p][c]
			rts = append(rts, max(0, there.Delay-there.Jitter)+nw.procDelay[p]+max(0, back.Delay-back.Jitter)+nw.procDelay[c])
		}
		slices.Sort(rts)
		if rt := rts[max(need-1, 0)]; best < 0 || rt < best {
			best = rt
		}
	}
	best /= 2
	if nw.inBurst && nw.burst != nil {
		best += nw.burst.ExtraDelay
	}
	return best
}
