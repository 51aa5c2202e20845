package configs

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestReadFileRefusesFIFOWithoutBlocking(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.hcl")
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Skip("no FIFOs here:", err)
	}
	done := make(chan error, 1)
	go func() { _, err := ReadFile(path, MaxFileBytes); done <- err }()
	// Nobody ever writes to the FIFO: a reader that opened it would block
	// for ever, and the test with it.
	if err := <-done; !errors.Is(err, ErrNotRegular) {
		t.Fatalf("FIFO: %v, want ErrNotRegular", err)
	}
	if _, err := ReadFile(t.TempDir(), MaxFileBytes); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("directory: %v, want ErrNotRegular", err)
	}
}

func TestReadFileBoundsSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.hcl")
	if err := os.WriteFile(path, []byte(strings.Repeat("# comment\n", 10000)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(path, 1000); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("100 KB file with a 1000-byte limit: %v", err)
	}
	if b, err := ReadFile(path, 1<<20); err != nil || len(b) != 100000 {
		t.Fatalf("within the limit: %d bytes, %v", len(b), err)
	}
}

func TestCheckLimits(t *testing.T) {
	deep := strings.Repeat("(", 30000) + "1" + strings.Repeat(")", 30000)
	cases := []struct{ name, src, want string }{
		{"nested parentheses", "x = " + deep + "\n", "f.hcl:1,37: nesting deeper than 32"},
		{"nested blocks", strings.Repeat("a {\n", 40) + strings.Repeat("}\n", 40), "nesting deeper than 32"},
		{"unary run", "x = " + strings.Repeat("!", 1000) + "true\n", "f.hcl:1,37: more than 32 operators in a row"},
		{"long expression", "x = 1" + strings.Repeat(" + 1", 2000) + "\n", "an expression of more than 1024 tokens"},
		{"big file", strings.Repeat("#", MaxFileBytes+1), "at most 65536 are read"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			diags := CheckLimits([]byte(tc.src), "f.hcl")
			if !diags.HasErrors() || !strings.Contains(FormatDiagnostics(diags), tc.want) {
				t.Fatalf("got %q, want %q", FormatDiagnostics(diags), tc.want)
			}
		})
	}
	// Many attributes of a few tokens each, in blocks, pass.
	ok := "bounds {\n" + strings.Repeat("  x = 1 + 2 * (3 - 4)\n", 2000) + "}\n"
	if diags := CheckLimits([]byte(ok), "f.hcl"); diags.HasErrors() {
		t.Fatalf("a long file of short attributes: %v", diags)
	}
}
