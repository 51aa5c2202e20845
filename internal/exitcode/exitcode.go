// Package exitcode maps the errors ns-agent's commands return to process
// exit codes as HashiCorp tools use them: 0 success, 1 failure, 2 usage
// error. The packages that run a command return plain errors, marking
// usage errors with Usagef and configuration files' problems with
// Diagnostics; cmd/ns-agent turns them into a message and a code with
// Report. It imports only configs (for the file:line,col rendering), so
// the sidecar build may use it.
package exitcode

import (
	"errors"
	"fmt"
	"io"

	"github.com/hashicorp/hcl/v2"

	"github.com/nsraft/nsraft/configs"
)

// Exit codes.
const (
	OK      = 0
	Failure = 1
	Usage   = 2
)

// ErrUsage is matched (errors.Is) by every error Usagef returns.
var ErrUsage = errors.New("usage error")

type usageError struct{ err error }

func (u usageError) Error() string        { return u.err.Error() }
func (u usageError) Unwrap() []error      { return []error{u.err, ErrUsage} }
func (u usageError) Is(target error) bool { return target == ErrUsage }

// Usagef returns a usage error (exit 2) saying what was wrong with the
// command line. %w wraps as in fmt.Errorf.
func Usagef(format string, a ...any) error {
	return usageError{fmt.Errorf(format, a...)}
}

// DiagnosticsError carries the problems found in configuration files.
// Report prints them one per line as file:line,col: message, without the
// command's prefix, as every command prints a file's problems.
type DiagnosticsError struct {
	Diags hcl.Diagnostics
}

func (e *DiagnosticsError) Error() string { return configs.FormatDiagnostics(e.Diags) }

// Diagnostics returns diags as an error when they hold an error, else nil.
func Diagnostics(diags hcl.Diagnostics) error {
	if !diags.HasErrors() {
		return nil
	}
	return &DiagnosticsError{Diags: diags}
}

// Code is the exit code for err: OK for nil, Usage for usage errors,
// Failure for everything else.
func Code(err error) int {
	switch {
	case err == nil:
		return OK
	case errors.Is(err, ErrUsage):
		return Usage
	default:
		return Failure
	}
}

// Report writes err to w as the command named by prefix reports it
// ("prefix: message"; a file's problems as they are; each of a List on
// its own line) and returns its exit code.
func Report(w io.Writer, prefix string, err error) int {
	var de *DiagnosticsError
	var le *ListError
	switch {
	case err == nil:
	case errors.As(err, &le):
		for _, e := range le.Errs {
			fmt.Fprintf(w, "%s: %v\n", prefix, e)
		}
	case errors.As(err, &de):
		fmt.Fprint(w, de.Error())
	default:
		fmt.Fprintf(w, "%s: %v\n", prefix, err)
	}
	return Code(err)
}

// ListError is several failures, each reported on its own line.
type ListError struct {
	Errs []error
}

func (e *ListError) Error() string { return errors.Join(e.Errs...).Error() }

// Unwrap returns the failures.
func (e *ListError) Unwrap() []error { return e.Errs }

// List returns errs as one error that Report prints one per line, each
// with the command's prefix; nil when errs is empty.
func List(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return &ListError{Errs: errs}
}
