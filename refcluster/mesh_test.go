package refcluster

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/nsraft/nsraft/internal/wait"
)

func TestPartitionLeaderFromMajorityThroughMesh(t *testing.T) {
	mesh := NewMesh()
	defer mesh.Close()
	c := startCluster(t, 3, mesh.Dial)
	if got := len(mesh.Links()); got != 6 {
		t.Fatalf("mesh has %d links, want 6 directed links for 3 nodes", got)
	}
	leader, term := waitLeader(t, c)

	if err := mesh.Partition([]string{leader}); err != nil {
		t.Fatal(err)
	}
	newLeader, newTerm := waitLeader(t, c, leader)
	if newLeader == leader || newTerm <= term {
		t.Fatalf("partitioned %s (term %d) but leader is %s term %d", leader, term, newLeader, newTerm)
	}
	// A write through the majority side succeeds while the old leader is cut off.
	putAcked(t, c, NewClient(3*time.Second), "during-partition", "ok")

	if err := mesh.Heal(); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, 15*time.Second, "old leader "+leader+" to rejoin as a follower", func() (bool, string) {
		st, err := c.Status(context.Background(), leader)
		return err == nil && st.Role == "follower" && st.Term >= newTerm && st.LeaderID != leader && st.LeaderID != "", fmt.Sprintf("%+v %v", st, err)
	})
	if v, ok := getValue(t, c, NewClient(3*time.Second), "during-partition"); !ok || v != "ok" {
		t.Fatalf("write made during the partition lost: %q %v", v, ok)
	}
}

// Start holds every node's port from the moment it chooses it: while the
// mesh creates its proxies (each on a port of the system's choosing) and
// the nodes start one after the other, no other listener can take a
// node's Raft port. Before, the ports were chosen, released and bound by
// the nodes later; a proxy or another process could take one in between,
// and the retry that followed kept proxies to the first attempt's ports,
// so the cluster never elected a leader.
func TestStartHoldsEveryPortUntilItsNodeServes(t *testing.T) {
	mesh := NewMesh()
	defer mesh.Close()
	var taken []string
	dial := func(from, to, raftAddr string) (string, error) {
		if l, err := net.Listen("tcp", raftAddr); err == nil {
			taken = append(taken, fmt.Sprintf("%s's %s (while starting %s)", to, raftAddr, from))
			l.Close()
		}
		return mesh.Dial(from, to, raftAddr)
	}
	c := startCluster(t, 3, dial)
	if len(taken) > 0 {
		t.Fatalf("another listener could bind %v", taken)
	}
	waitLeader(t, c)
}

// TestMeshLatencyToxic checks on a plain echo server that a link's latency
// is really applied, changed live and removed.
func TestMeshLatencyToxic(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				buf := make([]byte, 64)
				for {
					n, err := conn.Read(buf)
					if err != nil {
						conn.Close()
						return
					}
					conn.Write(buf[:n])
				}
			}()
		}
	}()
	mesh := NewMesh()
	defer mesh.Close()
	addr, err := mesh.Dial("n1", "n2", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rtt := func() time.Duration {
		start := time.Now()
		conn.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := conn.Write([]byte("ping")); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4)
		if _, err := conn.Read(buf); err != nil {
			t.Fatal(err)
		}
		return time.Since(start)
	}
	base := rtt()
	if err := mesh.SetLink("n1", "n2", LinkFault{Latency: 150 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	// Both streams carry the latency: a round trip costs at least 2×150ms.
	if d := rtt(); d < 300*time.Millisecond {
		t.Fatalf("rtt with 150ms latency per direction = %v (base %v)", d, base)
	}
	if err := mesh.SetLink("n1", "n2", LinkFault{}); err != nil {
		t.Fatal(err)
	}
	// With the toxic in place no round trip can be under 300ms; the
	// fastest of a few shows it is gone without timing the machine.
	fastest := rtt()
	for range 4 {
		fastest = min(fastest, rtt())
	}
	if fastest >= 300*time.Millisecond {
		t.Fatalf("fastest of 5 round trips after removing latency = %v: the latency is still there", fastest)
	}
	if err := mesh.SetLink("n1", "n3", LinkFault{Down: true}); err == nil {
		t.Fatal("SetLink on a link without a proxy succeeded")
	}
	if again, err := mesh.Dial("n1", "n2", ln.Addr().String()); err != nil || again != addr {
		t.Fatalf("the same link again: %q, %v; want %q", again, err, addr)
	}
	if _, err := mesh.Dial("n1", "n2", "127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "already leads to "+ln.Addr().String()) {
		t.Fatalf("the link to another address: %v", err)
	}
}

// TestMeshChangeOnABlockedLinkFails: a receiver that stops reading fills
// the proxy's buffers, and toxiproxy cannot change the link while its
// forwarding goroutine is blocked on that write. SetLink must then fail
// with a clear error instead of waiting as long as the receiver does not
// read, and refuse later changes to that link at once.
func TestMeshChangeOnABlockedLinkFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	held := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			held <- c // accepted, never read
		}
	}()
	mesh := NewMesh()
	defer mesh.Close()
	addr, err := mesh.Dial("n1", "n2", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer func() {
		select {
		case c := <-held:
			c.Close()
		default:
		}
	}()
	// Write until the proxy and both sockets' buffers are full: a write
	// that cannot finish within a second means nothing drains any more.
	chunk := make([]byte, 256<<10)
	for written := 0; ; written += len(chunk) {
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write(chunk); err != nil {
			t.Logf("the link stopped draining after about %d KB", written>>10)
			break
		}
		if written > 1<<30 {
			t.Fatal("1 GB went through a link whose receiver never reads")
		}
	}
	old := setLinkTimeout
	setLinkTimeout = 2 * time.Second
	defer func() { setLinkTimeout = old }()
	err = mesh.SetLink("n1", "n2", LinkFault{Latency: 100 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "not draining") {
		t.Fatalf("SetLink on a blocked link: %v; want the not-draining error", err)
	}
	err = mesh.SetLink("n1", "n2", LinkFault{})
	if err == nil || !strings.Contains(err.Error(), "never finished") {
		t.Fatalf("SetLink after a change that never finished: %v", err)
	}
	if got := mesh.Fault("n1", "n2"); got != (LinkFault{}) {
		t.Fatalf("the link records %+v, a change that was never applied", got)
	}
}
