package refcluster

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// etcdClients holds one client per member, each bound to that member's
// own endpoint, so a request goes to the member the workload picked (a
// follower forwards writes to its leader, as for any etcd client).
type etcdClients struct {
	c     *EtcdCluster
	names []string
	cli   map[string]*clientv3.Client

	mu       sync.Mutex
	starting map[string]bool
}

// setStarting marks a member that is restarting: its process runs but
// serves no one until it has caught up, so the workload sends it nothing
// (as a client's health-checking balancer would not).
func (ec *etcdClients) setStarting(name string, v bool) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	ec.starting[name] = v
}

// serving reports whether the member runs and is not restarting.
func (ec *etcdClients) serving(name string) bool {
	ec.mu.Lock()
	starting := ec.starting[name]
	ec.mu.Unlock()
	return !starting && ec.c.Running(name)
}

func newEtcdClients(c *EtcdCluster) (*etcdClients, error) {
	ec := &etcdClients{c: c, cli: map[string]*clientv3.Client{}, starting: map[string]bool{}}
	for _, m := range c.Members {
		cli, err := clientv3.New(clientv3.Config{Endpoints: []string{m.ClientURL}, DialTimeout: 2 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			ec.Close()
			return nil, fmt.Errorf("etcd client for %s: %w", m.Name, err)
		}
		ec.names = append(ec.names, m.Name)
		ec.cli[m.Name] = cli
	}
	return ec, nil
}

func (ec *etcdClients) Close() {
	for _, cli := range ec.cli {
		cli.Close()
	}
}

// etcdStatus is what one member says of itself.
type etcdStatus struct {
	ID, Leader uint64
	Term       uint64
}

// status asks the member for its status over its own connection (the
// client's Status method dials a fresh connection on every call).
func (ec *etcdClients) status(ctx context.Context, name string) (etcdStatus, error) {
	resp, err := pb.NewMaintenanceClient(ec.cli[name].ActiveConnection()).Status(ctx, &pb.StatusRequest{})
	if err != nil {
		return etcdStatus{}, err
	}
	return etcdStatus{ID: resp.Header.MemberId, Leader: resp.Leader, Term: resp.RaftTerm}, nil
}

// leader returns the member that leads in the highest term any running
// member reports.
func (ec *etcdClients) leader(ctx context.Context) (string, error) {
	var best string
	var term uint64
	for _, n := range ec.names {
		if !ec.c.Running(n) {
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		st, err := ec.status(sctx, n)
		cancel()
		if err == nil && st.Leader == st.ID && st.Term >= term {
			best, term = n, st.Term
		}
	}
	if best == "" {
		return "", fmt.Errorf("no member leads")
	}
	return best, nil
}

// waitLeader polls until a member leads.
func (ec *etcdClients) waitLeader(ctx context.Context) (string, error) {
	for {
		l, err := ec.leader(ctx)
		if err == nil {
			return l, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("no etcd leader: %w", ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// runEtcdWorkload writes and reads (linearizable reads, etcd's default)
// through randomly chosen running members until ctx is done, watches
// every member's term and leader, and checks the history with porcupine.
// A put that returns an error has an unknown outcome: etcd may have
// committed it before the error.
//
// Keys are prefix followed by k0, k1…: a history is checked against a
// store in which its keys were never written, so each workload on a
// cluster needs its own prefix.
func runEtcdWorkload(ctx context.Context, ec *etcdClients, prefix string, cfg WorkloadConfig) Report {
	cfg = cfg.withDefaults()
	start := cfg.Now()
	since := func() time.Duration { return cfg.Now().Sub(start) }
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
			for seq := 0; ctx.Err() == nil; seq++ {
				name := ec.names[rng.IntN(len(ec.names))]
				if !ec.serving(name) {
					// Yield: with every member down this loop would spin.
					time.Sleep(time.Millisecond)
					continue
				}
				cli := ec.cli[name]
				op := Op{Client: client, Key: fmt.Sprintf("%sk%d", prefix, rng.IntN(cfg.Keys)), Kind: OpPut}
				if rng.Float64() < cfg.ReadRatio {
					op.Kind = OpGet
				} else {
					op.Value = fmt.Sprintf("c%d-%d", client, seq)
				}
				octx, cancel := context.WithTimeout(context.Background(), cfg.OpTimeout)
				op.Call = since()
				var err error
				if op.Kind == OpPut {
					_, err = cli.Put(octx, op.Key, op.Value)
				} else {
					var resp *clientv3.GetResponse
					if resp, err = cli.Get(octx, op.Key); err == nil && len(resp.Kvs) > 0 {
						op.Found, op.Value = true, string(resp.Kvs[0].Value)
					}
				}
				op.Return = since()
				cancel()
				if err == nil {
					op.Ok = true
				} else {
					op.Unknown = op.Kind == OpPut
					op.Error = err.Error()
				}
				mu.Lock()
				history = append(history, op)
				mu.Unlock()
				if err != nil {
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
		changes, electionsAt = monitorEtcd(ctx, ec, since)
	}()
	wg.Wait()

	return newReport(since(), history, changes, electionsAt, cfg.UnavailableAfter)
}

// monitorEtcd polls every running member's status every 50ms, each from
// its own goroutine (a paused member must not delay the others'), and
// notes when each new highest term was first seen (an election) and the
// changes of the leader.
func monitorEtcd(ctx context.Context, ec *etcdClients, since func() time.Duration) ([]LeaderChange, []time.Duration) {
	type seen struct {
		name string
		st   etcdStatus
		at   time.Duration
	}
	ch := make(chan seen, 64)
	var wg sync.WaitGroup
	for _, n := range ec.names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t := time.NewTicker(50 * time.Millisecond)
			defer t.Stop()
			for {
				if ec.c.Running(n) {
					sctx, cancel := context.WithTimeout(ctx, time.Second)
					st, err := ec.status(sctx, n)
					cancel()
					if err == nil {
						select {
						case ch <- seen{n, st, since()}:
						case <-ctx.Done():
							return
						}
					}
				}
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}()
	}
	go func() { wg.Wait(); close(ch) }()
	var (
		changes   []LeaderChange
		elections []time.Duration
		maxTerm   uint64
		leader    string
		ledTerm   = map[uint64]string{}
	)
	for s := range ch {
		if s.st.Term > maxTerm {
			if maxTerm != 0 {
				for k := maxTerm; k < s.st.Term; k++ {
					elections = append(elections, s.at)
				}
			}
			maxTerm = s.st.Term
		}
		// etcd updates the leader it reports before the term in the
		// response header, so a new leader can claim the old term for a
		// moment: a term already led by another member is a stale claim.
		if s.st.Leader == s.st.ID && s.st.Term == maxTerm && s.name != leader && (ledTerm[s.st.Term] == "" || ledTerm[s.st.Term] == s.name) {
			leader = s.name
			ledTerm[s.st.Term] = s.name
			changes = append(changes, LeaderChange{At: s.at, Leader: s.name, Term: s.st.Term})
		}
	}
	return changes, elections
}
