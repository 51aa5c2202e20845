package refcluster

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"time"

	toxiproxy "github.com/Shopify/toxiproxy/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// Mesh routes every directed Raft link of a cluster through its own
// toxiproxy proxy, embedded in this process.
//
// What "link a→b" means: hashicorp/raft's NetworkTransport sends a request
// on a connection it dialed and reads the response on the same connection.
// The proxy a→b therefore carries a's requests to b (its upstream stream)
// and b's responses back to a (its downstream stream). Faults set on a→b
// are applied to both streams of that proxy, so a latency L on a→b delays
// a's AppendEntries to b by L and b's acknowledgement by L. Requests from b
// to a use the proxy b→a.
type Mesh struct {
	srv *toxiproxy.ApiServer

	mu      sync.Mutex
	proxies map[[2]string]*toxiproxy.Proxy
	faults  map[[2]string]LinkFault
	// stuck marks links whose last change toxiproxy never finished (see
	// SetLink); later changes to them fail at once.
	stuck map[[2]string]bool
}

// setLinkTimeout bounds one change of a link's toxics. toxiproxy applies a
// change by interrupting the goroutine that forwards the link's data; one
// blocked writing to a peer that does not read cannot be interrupted, and
// the change would wait with it for as long as the peer does not read.
var setLinkTimeout = 30 * time.Second

// LinkFault is what is applied to one directed link. The zero value is a
// healthy link.
type LinkFault struct {
	// Latency is added to every chunk in each direction of the link's
	// connection; Jitter makes it uniform in Latency±Jitter (toxiproxy's
	// latency toxic, millisecond resolution).
	Latency time.Duration
	Jitter  time.Duration
	// BandwidthKBps limits throughput (toxiproxy's bandwidth toxic); 0 is
	// unlimited.
	BandwidthKBps int64
	// Down black-holes the link: data is dropped and no connection closes
	// until it heals (toxiproxy's timeout toxic with timeout 0), as a
	// network partition does. On heal the held connections are closed, so
	// both ends reconnect.
	Down bool
}

// NewMesh starts an empty mesh; proxies are created by Dial.
func NewMesh() *Mesh {
	nop := zerolog.Nop()
	return &Mesh{
		srv:     toxiproxy.NewServer(toxiproxy.NewMetricsContainer(prometheus.NewRegistry()), nop),
		proxies: map[[2]string]*toxiproxy.Proxy{},
		faults:  map[[2]string]LinkFault{},
		stuck:   map[[2]string]bool{},
	}
}

// Dial is the ClusterConfig.Dial hook: it creates (once) the proxy for the
// link from→to in front of raftAddr and returns its listen address. Asked
// for the same link in front of another address, it refuses: the proxy
// would lead to an address nothing may serve.
func (m *Mesh) Dial(from, to, raftAddr string) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := [2]string{from, to}
	if p, ok := m.proxies[key]; ok {
		if p.Upstream != raftAddr {
			return "", fmt.Errorf("proxy %s→%s already leads to %s, not %s", from, to, p.Upstream, raftAddr)
		}
		return p.Listen, nil
	}
	p := toxiproxy.NewProxy(m.srv, from+"->"+to, "127.0.0.1:0", raftAddr)
	if err := m.srv.Collection.Add(p, true); err != nil {
		return "", fmt.Errorf("proxy %s→%s: %w", from, to, err)
	}
	m.proxies[key] = p
	return p.Listen, nil
}

// Inbound is the pseudo-source of a Front proxy's link: Front(to, …)
// creates the link Inbound→to.
const Inbound = "*"

// Front puts one proxy in front of node to's listener at addr and returns
// the proxy's listen address: every peer reaches that node through it.
// For hosts (etcd) whose members all dial one advertised peer URL, so
// that per-directed-link proxies are impossible; a fault set on
// Inbound→to delays everything to and from that node.
func (m *Mesh) Front(to, addr string) (string, error) {
	return m.Dial(Inbound, to, addr)
}

// Links returns the directed links that have a proxy, sorted.
func (m *Mesh) Links() [][2]string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][2]string, 0, len(m.proxies))
	for k := range m.proxies {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i][0] != out[j][0] {
			return out[i][0] < out[j][0]
		}
		return out[i][1] < out[j][1]
	})
	return out
}

// Fault returns the fault currently applied to a link.
func (m *Mesh) Fault(from, to string) LinkFault {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.faults[[2]string{from, to}]
}

// SetLink replaces the fault on the directed link from→to while the cluster
// runs.
func (m *Mesh) SetLink(from, to string, f LinkFault) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	key := [2]string{from, to}
	p, ok := m.proxies[key]
	if !ok {
		return fmt.Errorf("no proxy for link %s→%s", from, to)
	}
	if m.stuck[key] {
		return fmt.Errorf("link %s→%s: an earlier change of its faults never finished in toxiproxy; the link's faults are unknown", from, to)
	}
	old := m.faults[key]
	if old == f {
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- applyFault(p, old, f) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("link %s→%s: %w", from, to, err)
		}
	case <-time.After(setLinkTimeout):
		m.stuck[key] = true
		return fmt.Errorf("link %s→%s: toxiproxy did not apply the change within %s: a connection through the proxy is not draining (its receiver does not read), and toxiproxy cannot change a link while a write on it is blocked", from, to, setLinkTimeout)
	}
	m.faults[key] = f
	return nil
}

// applyFault moves proxy p's toxics from fault old to fault f.
func applyFault(p *toxiproxy.Proxy, old, f LinkFault) error {
	ctx := context.Background()
	for _, dir := range []string{"upstream", "downstream"} {
		if err := setToxic(ctx, p, "latency_"+dir, old.Latency > 0 || old.Jitter > 0, f.Latency > 0 || f.Jitter > 0,
			map[string]any{"type": "latency", "stream": dir, "attributes": map[string]int64{"latency": f.Latency.Milliseconds(), "jitter": f.Jitter.Milliseconds()}}); err != nil {
			return err
		}
		if err := setToxic(ctx, p, "bandwidth_"+dir, old.BandwidthKBps > 0, f.BandwidthKBps > 0,
			map[string]any{"type": "bandwidth", "stream": dir, "attributes": map[string]int64{"rate": f.BandwidthKBps}}); err != nil {
			return err
		}
		if err := setToxic(ctx, p, "down_"+dir, old.Down, f.Down,
			map[string]any{"type": "timeout", "stream": dir, "attributes": map[string]int64{"timeout": 0}}); err != nil {
			return err
		}
	}
	return nil
}

// setToxic adds, updates or removes one named toxic so that it exists iff
// want is true.
func setToxic(ctx context.Context, p *toxiproxy.Proxy, name string, had, want bool, spec map[string]any) error {
	switch {
	case !want && had:
		return p.Toxics.RemoveToxic(ctx, name)
	case !want:
		return nil
	}
	spec["name"] = name
	body, err := json.Marshal(spec)
	if err != nil {
		return err
	}
	// toxiproxy's UpdateToxicJson decodes into the toxic while its pipe
	// goroutines read it (a data race under -race), so a change is a
	// remove followed by an add.
	if had {
		if err := p.Toxics.RemoveToxic(ctx, name); err != nil {
			return err
		}
	}
	_, err = p.Toxics.AddToxicJson(bytes.NewReader(body))
	return err
}

// Partition cuts every link between the isolated nodes and the rest, in
// both directions; links inside each side keep their faults.
func (m *Mesh) Partition(isolate []string) error {
	in := map[string]bool{}
	for _, id := range isolate {
		in[id] = true
	}
	for _, l := range m.Links() {
		if in[l[0]] != in[l[1]] {
			f := m.Fault(l[0], l[1])
			f.Down = true
			if err := m.SetLink(l[0], l[1], f); err != nil {
				return err
			}
		}
	}
	return nil
}

// Heal brings every cut link back up, keeping latency and bandwidth faults.
func (m *Mesh) Heal() error {
	for _, l := range m.Links() {
		f := m.Fault(l[0], l[1])
		if f.Down {
			f.Down = false
			if err := m.SetLink(l[0], l[1], f); err != nil {
				return err
			}
		}
	}
	return nil
}

// Close stops every proxy.
func (m *Mesh) Close() error {
	return m.srv.Collection.Clear()
}
