package refcluster

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
	"time"
)

// WorkloadConfig configures the workload client.
type WorkloadConfig struct {
	// Writers is the number of concurrent clients (default 3).
	Writers int
	// Keys is the size of the key space (default 8). A small one makes
	// reads and writes of the same key overlap, which is what gives the
	// linearizability check teeth; a long run needs more keys, since the
	// check's cost grows steeply with the operations per key.
	Keys int
	// ReadRatio is the share of operations that are linearizable reads
	// (default 0.25).
	ReadRatio float64
	// OpTimeout bounds one operation (default 2s); a put that times out has
	// an unknown outcome.
	OpTimeout time.Duration
	// UnavailableAfter is the shortest interval without a successful write
	// that counts as unavailability (default 250ms: on loopback a healthy
	// write takes a few milliseconds, so only a leaderless or stalled
	// cluster produces such a gap).
	UnavailableAfter time.Duration
	// Seed drives the choice of keys, operations and target nodes.
	Seed uint64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// OnLeaderChange is called for every leader change the monitor sees.
	OnLeaderChange func(LeaderChange)
}

func (c WorkloadConfig) withDefaults() WorkloadConfig {
	if c.Writers <= 0 {
		c.Writers = 3
	}
	if c.Keys <= 0 {
		c.Keys = 8
	}
	if c.ReadRatio == 0 {
		c.ReadRatio = 0.25
	}
	if c.OpTimeout <= 0 {
		c.OpTimeout = 2 * time.Second
	}
	if c.UnavailableAfter <= 0 {
		c.UnavailableAfter = 250 * time.Millisecond
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// LeaderChange is one change of the cluster's leader as the monitor saw it.
type LeaderChange struct {
	At     time.Duration `json:"at_ns"` // since the start of the workload
	Leader string        `json:"leader"`
	Term   uint64        `json:"term"`
}

// Report is what a workload run observed.
type Report struct {
	Duration      time.Duration `json:"duration_ns"`
	Writes        int           `json:"writes"`
	WritesOK      int           `json:"writes_ok"`
	WritesUnknown int           `json:"writes_unknown"`
	Reads         int           `json:"reads"`
	ReadsOK       int           `json:"reads_ok"`
	// Unavailable is the total time covered by intervals of at least
	// UnavailableAfter with no successful write; Longest is the longest
	// interval with no successful write.
	Unavailable        time.Duration `json:"unavailable_ns"`
	LongestUnavailable time.Duration `json:"longest_unavailable_ns"`
	Elections          int           `json:"elections"` // terms started while the workload ran
	// ElectionsAt is when the monitor first saw each new highest term.
	ElectionsAt   []time.Duration `json:"elections_at_ns"`
	LeaderChanges []LeaderChange  `json:"leader_changes"`
	Verdict       Verdict         `json:"linearizability"`
	History       []Op            `json:"-"`
}

// Target is what the workload needs from a cluster.
type Target interface {
	IDs() []string
	HTTPAddr(id string) string
	Running(id string) bool
	Status(ctx context.Context, id string) (Status, error)
}

// RunWorkload writes and reads continuously until ctx is done, then checks
// the history with porcupine.
func RunWorkload(ctx context.Context, t Target, cfg WorkloadConfig) Report {
	cfg = cfg.withDefaults()
	start := cfg.Now()
	since := func() time.Duration { return cfg.Now().Sub(start) }
	cl := NewClient(cfg.OpTimeout)

	var (
		mu      sync.Mutex
		history []Op
		wg      sync.WaitGroup
	)
	for w := 0; w < cfg.Writers; w++ {
		wg.Add(1)
		go func(client int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(cfg.Seed, uint64(client)+1))
			ids := t.IDs()
			for seq := 0; ctx.Err() == nil; seq++ {
				id := ids[rng.IntN(len(ids))]
				if !t.Running(id) {
					continue
				}
				op := Op{Client: client, Key: fmt.Sprintf("k%d", rng.IntN(cfg.Keys)), Kind: OpPut}
				if rng.Float64() < cfg.ReadRatio {
					op.Kind = OpGet
				} else {
					op.Value = fmt.Sprintf("c%d-%d", client, seq)
				}
				octx, cancel := context.WithTimeout(context.Background(), cfg.OpTimeout)
				op.Call = since()
				var res KVResult
				var err error
				if op.Kind == OpPut {
					res, err = cl.Put(octx, t.HTTPAddr(id), op.Key, op.Value)
				} else {
					res, err = cl.Get(octx, t.HTTPAddr(id), op.Key)
				}
				op.Return = since()
				cancel()
				switch {
				case err == nil:
					op.Ok = true
					if op.Kind == OpGet {
						op.Value, op.Found = res.Value, res.Found
					}
				case errors.Is(err, ErrRejected):
					op.Error = err.Error()
				default:
					op.Unknown = true
					op.Error = err.Error()
				}
				mu.Lock()
				history = append(history, op)
				mu.Unlock()
				if err != nil {
					// Back off briefly so a leaderless cluster is probed,
					// not hammered.
					select {
					case <-ctx.Done():
					case <-time.After(20 * time.Millisecond):
					}
				}
			}
		}(w)
	}

	var changes []LeaderChange
	var electionsAt []time.Duration
	wg.Add(1)
	go func() {
		defer wg.Done()
		changes, electionsAt = monitor(ctx, t, since, cfg.OnLeaderChange)
	}()
	wg.Wait()

	return newReport(since(), history, changes, electionsAt, cfg.UnavailableAfter)
}

// newReport summarises a workload's history: counts of writes and reads,
// write unavailability (gaps of at least unavailableAfter between
// successful writes), and the linearizability verdict.
func newReport(d time.Duration, history []Op, changes []LeaderChange, electionsAt []time.Duration, unavailableAfter time.Duration) Report {
	rep := Report{Duration: d, History: history, LeaderChanges: changes, Elections: len(electionsAt), ElectionsAt: electionsAt}
	var okWrites []time.Duration
	for _, op := range history {
		switch op.Kind {
		case OpPut:
			rep.Writes++
			if op.Ok {
				rep.WritesOK++
				okWrites = append(okWrites, op.Return)
			}
			if op.Unknown {
				rep.WritesUnknown++
			}
		case OpGet:
			rep.Reads++
			if op.Ok {
				rep.ReadsOK++
			}
		}
	}
	rep.Unavailable, rep.LongestUnavailable = Unavailability(okWrites, rep.Duration, unavailableAfter)
	rep.Verdict = CheckLinearizable(history, time.Minute)
	return rep
}

// Unavailability returns the total length of the gaps of at least min
// between consecutive successful writes (and from the start to the first,
// the last to end), and the longest gap.
func Unavailability(okWrites []time.Duration, end, min time.Duration) (total, longest time.Duration) {
	ts := append([]time.Duration(nil), okWrites...)
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	prev := time.Duration(0)
	for _, t := range append(ts, end) {
		gap := t - prev
		if gap > longest {
			longest = gap
		}
		if gap >= min {
			total += gap
		}
		prev = t
	}
	return total, longest
}

// monitor polls every node's status, noting when each new highest term
// was first seen (an election) and the changes of the leader (the node
// claiming leadership in the highest term seen).
func monitor(ctx context.Context, t Target, since func() time.Duration, onChange func(LeaderChange)) ([]LeaderChange, []time.Duration) {
	var (
		changes   []LeaderChange
		elections []time.Duration
		maxTerm   uint64
		leader    string
	)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, id := range t.IDs() {
			if !t.Running(id) {
				continue
			}
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			st, err := t.Status(sctx, id)
			cancel()
			if err != nil {
				continue
			}
			if st.Term > maxTerm {
				if maxTerm != 0 {
					for k := maxTerm; k < st.Term; k++ {
						elections = append(elections, since())
					}
				}
				maxTerm = st.Term
			}
			if st.Role == "leader" && st.Term == maxTerm && st.ID != leader {
				leader = st.ID
				ch := LeaderChange{At: since(), Leader: st.ID, Term: st.Term}
				changes = append(changes, ch)
				if onChange != nil {
					onChange(ch)
				}
			}
		}
		select {
		case <-ctx.Done():
			return changes, elections
		case <-tick.C:
		}
	}
}
