package configs

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// Limits on what an HCL file may hold before it is parsed. The HCL parser
// recurses once per nesting level and builds a node per token, so a file
// of 100,000 nested parentheses overflowed the stack and 100,000 chained
// operators took 600 MB; real policies, agent configurations and
// scenarios are a few kilobytes with expressions of a few dozen tokens.
const (
	// MaxFileBytes bounds an HCL file.
	MaxFileBytes = 64 << 10
	// MaxNesting bounds the nesting of brackets, braces, parentheses and
	// template interpolations, and runs of unary operators.
	MaxNesting = 32
	// MaxExpressionTokens bounds the tokens of one attribute (one line at
	// the top nesting level, however many lines its brackets span).
	MaxExpressionTokens = 1024
)

// Errors of ReadFile; test with errors.Is.
var (
	ErrNotRegular = errors.New("not a regular file")
	ErrTooLarge   = errors.New("file too large")
)

// ReadFile reads a configuration, policy, scenario or weights file of at
// most limit bytes. It refuses anything but a regular file without
// blocking: a FIFO in place of a policy would otherwise hang the reader
// (and SIGTERM with it) until someone wrote to it.
func ReadFile(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s: %w: %d bytes, at most %d", path, ErrTooLarge, fi.Size(), limit)
	}
	// O_NONBLOCK: if the path was swapped for a FIFO since the Stat, the
	// open still returns at once and the check below refuses it.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", path, ErrNotRegular, fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, ErrTooLarge, limit)
	}
	return data, nil
}

// ReadDiagnostic turns a ReadFile error into a diagnostic.
func ReadDiagnostic(err error) hcl.Diagnostics {
	return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: err.Error()}}
}

// CheckLimits scans src with the HCL lexer (which does not recurse) and
// reports, at its position, the first place the source exceeds
// MaxFileBytes, MaxNesting or MaxExpressionTokens. Parse only what
// passes.
func CheckLimits(src []byte, filename string) hcl.Diagnostics {
	start := hcl.Pos{Line: 1, Column: 1}
	if len(src) > MaxFileBytes {
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf("%s: %d bytes, at most %d are read", filename, len(src), MaxFileBytes),
			Subject: &hcl.Range{Filename: filename, Start: start, End: start}}}
	}
	toks, _ := hclsyntax.LexConfig(src, filename, start) // lexing errors are the parser's to report
	errAt := func(t hclsyntax.Token, format string, args ...any) hcl.Diagnostics {
		r := t.Range
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: fmt.Sprintf(format, args...), Subject: &r}}
	}
	var open []hclsyntax.TokenType // innermost last; at most MaxNesting
	unary, tokens := 0, 0
	for _, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenTemplateInterp,
			hclsyntax.TokenTemplateControl, hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc:
			if len(open) == MaxNesting {
				return errAt(t, "nesting deeper than %d levels", MaxNesting)
			}
			open = append(open, t.Type)
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenTemplateSeqEnd,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc:
			if len(open) > 0 {
				open = open[:len(open)-1]
			}
		}
		switch t.Type {
		case hclsyntax.TokenBang, hclsyntax.TokenMinus:
			if unary++; unary > MaxNesting {
				return errAt(t, "more than %d operators in a row", MaxNesting)
			}
		default:
			unary = 0
		}
		// A newline ends an attribute at the top level and in a block
		// (or object) body: each is counted on its own.
		if t.Type == hclsyntax.TokenNewline && (len(open) == 0 || open[len(open)-1] == hclsyntax.TokenOBrace) {
			tokens = 0
			continue
		}
		if tokens++; tokens > MaxExpressionTokens {
			return errAt(t, "an expression of more than %d tokens", MaxExpressionTokens)
		}
	}
	return nil
}
