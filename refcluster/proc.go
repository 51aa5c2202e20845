package refcluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// nodeProc is one child process of a launcher (a node, an agent, an etcd
// member): done is closed when it has exited.
type nodeProc struct {
	name string
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit error, valid after done is closed
}

// ErrNodeDown is returned for signals to a node that is not running.
var ErrNodeDown = errors.New("node is not running")

// startProc starts bin with args and the extra files (descriptors 3 and
// up), its output written to out or, when out is nil, appended to logPath.
func startProc(name, bin string, args []string, extra []*os.File, out io.Writer, logPath string) (*nodeProc, error) {
	cmd := exec.Command(bin, args...)
	cmd.ExtraFiles = extra
	var logf *os.File
	if out == nil {
		if err := os.MkdirAll(filepath.Dir(logPath), 0o755); err != nil {
			return nil, err
		}
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, err
		}
		logf, out = f, f
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		if logf != nil {
			logf.Close()
		}
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &nodeProc{name: name, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		if logf != nil {
			logf.Close()
		}
		close(p.done)
	}()
	return p, nil
}

// alive reports whether the process has not exited (it may be stopped).
func (p *nodeProc) alive() bool {
	if p == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends s, or says the process is not running.
func (p *nodeProc) signal(s syscall.Signal) error {
	if !p.alive() {
		name := "process"
		if p != nil {
			name = p.name
		}
		return fmt.Errorf("%s: %w", name, ErrNodeDown)
	}
	return p.cmd.Process.Signal(s)
}

// kill SIGKILLs the process and waits until it is gone.
func (p *nodeProc) kill() error {
	if err := p.signal(syscall.SIGKILL); err != nil {
		return err
	}
	<-p.done
	return nil
}

// stopAll terminates the processes (SIGCONT first, so stopped ones can
// exit), waits up to grace for them together, then kills what is left and
// names it.
func stopAll(procs []*nodeProc, grace time.Duration) error {
	for _, p := range procs {
		if p.alive() {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	expired := false
	var errs []error
	for _, p := range procs {
		if p == nil {
			continue
		}
		if !expired {
			select {
			case <-p.done:
			case <-timer.C:
				expired = true // kill the rest at once
			}
		}
		if p.alive() {
			_ = p.cmd.Process.Kill()
			<-p.done
			errs = append(errs, fmt.Errorf("%s (pid %d) did not stop on SIGTERM", p.name, p.cmd.Process.Pid))
		}
	}
	return errors.Join(errs...)
}
