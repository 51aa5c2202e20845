package agent

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/nsraft/nsraft/api/nsraftv1"
	"github.com/nsraft/nsraft/configs"
)

//go:embed web
var webFS embed.FS

// Controls are the fault and strategy controls a dashboard may offer (the
// demo's); a deployment's dashboard has none and is read-only.
type Controls interface {
	// Nodes lists the cluster's node IDs; Links its directed links.
	Nodes() []string
	Links() [][2]string
	// Strategies lists what a node's agent can be switched to.
	Strategies() []string
	// Do carries out one action.
	Do(ctx context.Context, a Action) error
}

// Action is one control from the page.
type Action struct {
	// Kind is latency, clear, stall, partition, heal, pause, resume,
	// kill, restart or strategy.
	Kind string `json:"kind"`
	// Link is "from->to", or "" for every link (latency, clear, stall).
	Link string `json:"link,omitempty"`
	// Node is the node of pause, resume, kill, restart, strategy and
	// partition (which isolates it).
	Node string `json:"node,omitempty"`
	// LatencyMS and JitterMS are the latency fault; DurationMS how long
	// a stall lasts.
	LatencyMS  int `json:"latency_ms,omitempty"`
	JitterMS   int `json:"jitter_ms,omitempty"`
	DurationMS int `json:"duration_ms,omitempty"`
	// Strategy is the recommender to switch Node's agent to.
	Strategy string `json:"strategy,omitempty"`
}

// Note is a non-decision event on the timeline: an injected fault, a
// control action and its outcome.
type Note struct {
	AtUnixNano int64  `json:"at_unix_nano"`
	Text       string `json:"text"`
	Error      string `json:"error,omitempty"`
}

// Dashboard serves the live view: an embedded page fed by server-sent
// events carrying every decision (as the protocol's DecisionEvent, in
// JSON) and every note. It shows only what the agents decided: the page
// draws the values of the events, it computes none.
type Dashboard struct {
	title    string
	controls Controls

	// token must accompany every state-changing request: the page reads
	// it from /api/config, which another site's page cannot read.
	token string

	mu       sync.Mutex
	policies map[string]bool // policy files the page may show, besides the embedded presets
	clients  map[chan []byte]struct{}
	recent   []sent          // last events, replayed to a new page
	replay   int             // how many events recent holds at most
	lastOf   map[string]sent // each node's latest decision, replayed even when older than recent
	seq      uint64
	dropped  uint64
}

// sent is one server-sent event, numbered in publishing order.
type sent struct {
	seq uint64
	msg []byte
}

// NewDashboard returns a dashboard; controls may be nil (read-only).
func NewDashboard(title string, controls Controls) *Dashboard {
	var tok [16]byte
	rand.Read(tok[:])
	return &Dashboard{title: title, controls: controls, token: hex.EncodeToString(tok[:]),
		clients: map[chan []byte]struct{}{}, policies: map[string]bool{}, lastOf: map[string]sent{}, replay: dashboardReplay}
}

// SetReplay sets how many recent events a new page is sent first (at
// least 2; the default, dashboardReplay, suits a cluster's dashboard).
// Each event is about 1.3 KB of JSON held in memory.
func (d *Dashboard) SetReplay(n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.replay = max(n, 2)
}

// ShowPolicy lets the page show a policy file (the one the agent was
// configured with), so a rule's position links to its source. Only such
// files and the embedded presets are ever served.
func (d *Dashboard) ShowPolicy(path string) {
	d.mu.Lock()
	d.policies[path] = true
	d.mu.Unlock()
}

// policySource returns a policy file's text if the page may show it.
func (d *Dashboard) policySource(file string) ([]byte, bool) {
	if name, ok := strings.CutPrefix(file, "configs/"); ok && strings.HasPrefix(name, "policies/") {
		b, err := fs.ReadFile(configs.Policies, name)
		return b, err == nil
	}
	d.mu.Lock()
	ok := d.policies[file]
	d.mu.Unlock()
	if !ok {
		return nil, false
	}
	b, err := os.ReadFile(file)
	return b, err == nil
}

// servePolicy renders a policy file with numbered lines, the rule's line
// highlighted: where a rule that fired is written.
func (d *Dashboard) servePolicy(w http.ResponseWriter, r *http.Request) {
	pos := r.URL.Query().Get("pos")
	file, rest, _ := strings.Cut(pos, ":")
	line, _ := strconv.Atoi(strings.SplitN(rest, ",", 2)[0])
	src, ok := d.policySource(file)
	if !ok {
		http.Error(w, "no such policy file on this dashboard: "+file, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, "<!doctype html><html lang=en><meta charset=utf-8><title>%s</title><link rel=stylesheet href=style.css><body><h1>%s</h1><pre>", html.EscapeString(file), html.EscapeString(pos))
	for i, l := range strings.Split(string(src), "\n") {
		style := ""
		if i+1 == line {
			style = ` style="background:#fff8c5;color:#1b1f24"`
		}
		fmt.Fprintf(w, "<span id=L%d%s>%4d  %s</span>\n", i+1, style, i+1, html.EscapeString(l))
	}
	fmt.Fprint(w, "</pre></body></html>")
}

// dashboardReplay is the default replay: 2,000 events, 40 s of a
// five-node cluster at a 100 ms tick (the page's timeline shows 120 s).
const dashboardReplay = 2000

// agentReplay is an agent's own dashboard replay: one node at a 100 ms
// tick, a minute of its decisions (at most 600 events, about 0.8 MB; the
// default's 1,000 to 2,000 held 1.3 to 2.6 MB, half of the agent's live
// heap). A page opened later fills the rest of its timeline live.
const agentReplay = 600

// Publish sends one decision to every open page.
func (d *Dashboard) Publish(ev *nsraftv1.DecisionEvent) {
	b, err := protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: true}.Marshal(ev)
	if err != nil {
		return
	}
	d.send("decision", ev.GetNode(), b)
}

// Notef puts a note on every open page's timeline.
func (d *Dashboard) Notef(err error, format string, args ...any) {
	n := Note{AtUnixNano: time.Now().UnixNano(), Text: fmt.Sprintf(format, args...)}
	if err != nil {
		n.Error = err.Error()
	}
	b, _ := json.Marshal(n)
	d.send("note", "", b)
}

func (d *Dashboard) send(kind, node string, data []byte) {
	msg := []byte("event: " + kind + "\ndata: ")
	msg = append(msg, data...)
	msg = append(msg, '\n', '\n')
	d.mu.Lock()
	defer d.mu.Unlock()
	d.seq++
	e := sent{d.seq, msg}
	d.recent = append(d.recent, e)
	if len(d.recent) > d.replay {
		// Keep the newer half, and drop the references the copy left
		// behind so their events can be collected.
		n := copy(d.recent, d.recent[len(d.recent)-d.replay/2:])
		clear(d.recent[n:])
		d.recent = d.recent[:n]
	}
	if node != "" {
		d.lastOf[node] = e
	}
	for c := range d.clients {
		select {
		case c <- msg:
		default:
			d.dropped++ // a page that cannot keep up misses events, nobody waits
		}
	}
}

// backlog is what a new page is sent first: the latest decision of every
// node whose events have left the replay buffer (a node killed minutes
// ago still has a card, shown stale), then the buffer. Callers hold d.mu.
func (d *Dashboard) backlog() [][]byte {
	first := d.seq + 1
	if len(d.recent) > 0 {
		first = d.recent[0].seq
	}
	var old []sent
	for _, e := range d.lastOf {
		if e.seq < first {
			old = append(old, e)
		}
	}
	sort.Slice(old, func(i, j int) bool { return old[i].seq < old[j].seq })
	out := make([][]byte, 0, len(old)+len(d.recent))
	for _, e := range append(old, d.recent...) {
		out = append(out, e.msg)
	}
	return out
}

// ServeHTTP serves the page, its assets, /events and (with controls)
// /api/control.
func (d *Dashboard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events":
		d.events(w, r)
	case "/api/config":
		cfg := map[string]any{"title": d.title, "controls": d.controls != nil}
		if d.controls != nil && d.sameSite(r) == nil {
			cfg["token"] = d.token
		}
		if d.controls != nil {
			var links []string
			for _, l := range d.controls.Links() {
				links = append(links, l[0]+"->"+l[1])
			}
			cfg["nodes"], cfg["links"], cfg["strategies"] = d.controls.Nodes(), links, d.controls.Strategies()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(cfg)
	case "/api/control":
		d.control(w, r)
	case "/policy":
		d.servePolicy(w, r)
	default:
		sub, _ := fs.Sub(webFS, "web")
		http.FileServer(http.FS(sub)).ServeHTTP(w, r)
	}
}

// MaxPages bounds the live pages (SSE streams) served at once; each holds
// a buffer of pageBuffer events.
const (
	MaxPages         = 16
	pageBuffer       = 512
	pageWriteTimeout = 10 * time.Second
)

func (d *Dashboard) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	c := make(chan []byte, pageBuffer)
	d.mu.Lock()
	if len(d.clients) >= MaxPages {
		d.mu.Unlock()
		http.Error(w, fmt.Sprintf("%d live pages are open; at most %d are served", MaxPages, MaxPages), http.StatusServiceUnavailable)
		return
	}
	backlog := d.backlog()
	d.clients[c] = struct{}{}
	d.mu.Unlock()
	defer func() {
		d.mu.Lock()
		delete(d.clients, c)
		d.mu.Unlock()
	}()
	// A page that stops reading is dropped after pageWriteTimeout
	// instead of holding its buffers for ever.
	rc := http.NewResponseController(w)
	rc.SetWriteDeadline(time.Now().Add(pageWriteTimeout))
	for _, m := range backlog {
		w.Write(m)
	}
	// What follows is live: the page measures decision-to-screen latency
	// from here on, not on the replayed history.
	w.Write([]byte("event: live\ndata: {}\n\n"))
	fl.Flush()
	ping := time.NewTicker(15 * time.Second)
	defer ping.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case m := <-c:
			rc.SetWriteDeadline(time.Now().Add(pageWriteTimeout))
			w.Write(m)
			// Coalesce what is already queued into one flush.
			for n := len(c); n > 0; n-- {
				w.Write(<-c)
			}
			if rc.Flush() != nil {
				return
			}
		case <-ping.C:
			rc.SetWriteDeadline(time.Now().Add(pageWriteTimeout))
			w.Write([]byte(": ping\n\n"))
			if rc.Flush() != nil {
				return
			}
		}
	}
}

func (d *Dashboard) control(w http.ResponseWriter, r *http.Request) {
	if d.controls == nil {
		http.Error(w, "this dashboard is read-only", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost {
		http.Error(w, "POST an action", http.StatusMethodNotAllowed)
		return
	}
	if err := d.sameSite(r); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.Header.Get(tokenHeader)), []byte(d.token)) != 1 {
		http.Error(w, "missing or wrong "+tokenHeader+": reload the dashboard", http.StatusForbidden)
		return
	}
	if ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(ct) != "application/json" {
		http.Error(w, "send the action as application/json", http.StatusUnsupportedMediaType)
		return
	}
	var a Action
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<16)).Decode(&a); err != nil {
		http.Error(w, "bad action: "+err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	err := d.controls.Do(ctx, a)
	d.Notef(err, "%s", describe(a))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// LoopbackOnly serves h to clients on this machine only (a browser here,
// ssh -L, kubectl port-forward) and 403 to the rest: an agent's HTTP
// listener is often bound to every interface for Prometheus and the
// kubelet, and its dashboard shows the cluster's inner workings.
func LoopbackOnly(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			http.Error(w, "the dashboard answers loopback clients only: use ssh -L or kubectl port-forward", http.StatusForbidden)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// tokenHeader carries the dashboard's anti-forgery token.
const tokenHeader = "X-Ns-Agent-Token"

// sameSite refuses requests that another site could have made the
// browser send: a Host that is not a loopback or literal address (DNS
// rebinding points a stranger's name at this port) or an Origin other
// than the page's own. The fault controls stop a cluster's nodes; only
// the dashboard's own page may use them.
func (d *Dashboard) sameSite(r *http.Request) error {
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("host %q refused: open the dashboard by IP address or localhost", r.Host)
	}
	if o := r.Header.Get("Origin"); o != "" {
		u, err := url.Parse(o)
		if err != nil || u.Host != r.Host {
			return fmt.Errorf("cross-origin request from %q refused", o)
		}
	}
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return fmt.Errorf("%s request refused", site)
	}
	return nil
}

func describe(a Action) string {
	where := a.Link
	if where == "" {
		where = "every link"
	}
	switch a.Kind {
	case "latency":
		return fmt.Sprintf("latency %dms ±%dms on %s", a.LatencyMS, a.JitterMS, where)
	case "clear":
		return "clear latency on " + where
	case "stall":
		return fmt.Sprintf("loss burst: %s stalls for %dms", where, a.DurationMS)
	case "partition":
		return "partition isolating " + a.Node
	case "heal":
		return "heal partitions"
	case "strategy":
		return fmt.Sprintf("switch %s's agent to %s", a.Node, a.Strategy)
	default:
		return a.Kind + " " + a.Node
	}
}

// Follow feeds the dashboard from the agent at target (Watch), until ctx
// ends, reconnecting when the agent goes away.
func (d *Dashboard) Follow(ctx context.Context, target string) {
	Follow(ctx, target, &nsraftv1.WatchRequest{Replay: true}, 2*time.Second, d.Publish, nil)
}

// Follow watches the agent at target until ctx ends, calling onEvent for
// each decision. When the stream ends it calls onDown (if set) with why
// and reconnects after a backoff doubling from 200ms up to maxWait. The
// replay req may ask for is asked for until a decision has arrived: after
// that, a replay would repeat what was already seen. Without dial options
// it connects in plain text (unix sockets, loopback).
func Follow(ctx context.Context, target string, req *nsraftv1.WatchRequest, maxWait time.Duration,
	onEvent func(*nsraftv1.DecisionEvent), onDown func(err error, retryIn time.Duration), dial ...grpc.DialOption) {
	if len(dial) == 0 {
		dial = []grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}
	}
	wait := 200 * time.Millisecond
	for ctx.Err() == nil {
		conn, err := grpc.NewClient(target, dial...)
		if err == nil {
			var st nsraftv1.Agent_WatchClient
			st, err = nsraftv1.NewAgentClient(conn).Watch(ctx, req)
			for err == nil {
				var ev *nsraftv1.DecisionEvent
				if ev, err = st.Recv(); err == nil {
					onEvent(ev)
					wait = 200 * time.Millisecond
					if req.Replay {
						req = &nsraftv1.WatchRequest{Node: req.Node}
					}
				}
			}
			conn.Close()
		}
		if ctx.Err() != nil {
			return
		}
		if onDown != nil {
			onDown(err, wait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(wait):
		}
		wait = min(2*wait, maxWait)
	}
}

// FollowHub feeds the dashboard from this agent's own decisions.
func (d *Dashboard) FollowHub(ctx context.Context, a *Agent) {
	w, cancel := a.hub.subscribe("", true)
	defer cancel()
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-w.ch:
			d.Publish(ev)
		}
	}
}
