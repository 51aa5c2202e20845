package testbin

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

var binary string

// Main is a test package's TestMain: unless -short, it builds ns-agent
// into a temporary directory, runs the tests, removes the directory and
// exits with the tests' code. Under -short nothing is built and Path skips
// the tests that need the binary.
func Main(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "ns-agent-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "ns-agent")
	build := exec.Command("go", "build", "-o", binary, "github.com/nsraft/nsraft/cmd/ns-agent")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ns-agent:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Path returns the binary Main built; under -short, where none is built,
// it skips the test.
func Path(t testing.TB) string {
	t.Helper()
	if binary == "" {
		t.Skip("-short: runs ns-agent processes")
	}
	return binary
}
