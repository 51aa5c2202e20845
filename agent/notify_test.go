package agent

import (
	"net"
	"path/filepath"
	"testing"
	"time"
)

// TestSDNotify plays systemd's side of Type=notify: a datagram socket
// named by $NOTIFY_SOCKET receives what the agent reports.
func TestSDNotify(t *testing.T) {
	if ok, err := SDNotify("READY=1"); ok || err != nil {
		t.Fatalf("without NOTIFY_SOCKET: sent %v, %v", ok, err)
	}
	path := filepath.Join(t.TempDir(), "notify.sock")
	l, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	t.Setenv("NOTIFY_SOCKET", path)
	for _, state := range []string{"READY=1", "RELOADING=1", "STOPPING=1"} {
		if ok, err := SDNotify(state); !ok || err != nil {
			t.Fatalf("%s: sent %v, %v", state, ok, err)
		}
		buf := make([]byte, 64)
		l.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := l.Read(buf)
		if err != nil || string(buf[:n]) != state {
			t.Fatalf("systemd got %q (%v), want %q", buf[:n], err, state)
		}
	}
}
