package agent

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestSocketModeIgnoresUmask: the socket's mode is the configured one
// whatever the umask (0777 under 000, 0755 under 022 before).
func TestSocketModeIgnoresUmask(t *testing.T) {
	dir := t.TempDir()
	for _, umask := range []int{0o000, 0o022, 0o077} {
		old := syscall.Umask(umask)
		l, path, err := listen("unix://"+filepath.Join(dir, "a.sock"), SocketOptions{})
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		fi, err := os.Lstat(path)
		l.Close()
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != SocketMode {
			t.Fatalf("umask %03o: socket mode %v, want %v", umask, fi.Mode().Perm(), SocketMode)
		}
		removeSocket(path)
	}
	l, path, err := listen("unix://"+filepath.Join(dir, "b.sock"), SocketOptions{Mode: 0o600})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if fi, _ := os.Lstat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket_mode 0600: %v", fi.Mode().Perm())
	}
}

// TestListenNeverReplacesAFile: listen.grpc pointed at raft.db used to
// delete it without a word.
func TestListenNeverReplacesAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "raft.db")
	os.WriteFile(path, []byte("precious"), 0o600)
	if _, _, err := listen("unix://"+path, SocketOptions{}); !errors.Is(err, ErrNotSocket) {
		t.Fatalf("listen on a regular file: %v, want ErrNotSocket", err)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "precious" {
		t.Fatalf("the file was touched: %q %v", b, err)
	}
	// A stale socket (nobody serving) is replaced.
	l, sock, err := listen("unix://"+filepath.Join(filepath.Dir(path), "s.sock"), SocketOptions{})
	if err != nil {
		t.Fatal(err)
	}
	l.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false)
	l.Close()
	l, _, err = listen("unix://"+sock, SocketOptions{})
	if err != nil {
		t.Fatalf("a stale socket must be replaced: %v", err)
	}
	l.Close()
}

// TestSocketDirMustBeTheAgents: a socket in a directory others may write
// to (the shared temp directory) could be squatted or replaced.
func TestSocketDirMustBeTheAgents(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shared")
	os.Mkdir(dir, 0o777)
	os.Chmod(dir, 0o1777)
	if _, _, err := listen("unix://"+filepath.Join(dir, "a.sock"), SocketOptions{}); !errors.Is(err, ErrUnsafeSocketDir) {
		t.Fatalf("socket in a world-writable directory: %v, want ErrUnsafeSocketDir", err)
	}
	// The default path is in a directory of the agent's own.
	cfg, diags := ParseConfig([]byte("node = \"n1\"\n"), "a.hcl")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if want := "unix://" + filepath.Join(DefaultSocketDir(), "n1.sock"); cfg.GRPC != want {
		t.Fatalf("default socket %s, want %s", cfg.GRPC, want)
	}
}
