package agent

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
)

// RecordLog is the recommendation log on disk: newline-terminated records
// appended to one file, rotated by size into path.1 … path.N. Each Write
// is one record, and a record is written whole or not at all: a short
// write (a full disk) is cut back off the file, so the log never holds a
// torn line for the next record to glue onto. Failures and what rotation
// deletes are reported through the hooks, never silently.
type RecordLog struct {
	path     string
	maxBytes int64
	backups  int
	hooks    LogHooks

	mu      sync.Mutex
	f       *os.File
	size    int64
	failing bool
	// writeFile writes to the file; tests stand a full disk in for it.
	writeFile func(f *os.File, p []byte) (int, error)
}

// LogHooks receive what a RecordLog must not keep to itself. Any may be
// nil.
type LogHooks struct {
	// Failed is called for every record that could not be written.
	Failed func(err error)
	// Recovered is called on the first good write after failures.
	Recovered func()
	// Rotated is called when rotation deletes a backup (or, with no
	// backups, the file itself): its name and size.
	Rotated func(deleted string, bytes int64)
}

// OpenRecordLog opens (creating it and its directory) the log at path. A
// torn last record left by a crash or a full disk is cut off; repaired is
// how many bytes that removed.
func OpenRecordLog(path string, maxBytes int64, backups int, hooks LogHooks) (l *RecordLog, repaired int64, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return nil, 0, err
	}
	l = &RecordLog{path: path, maxBytes: maxBytes, backups: backups, hooks: hooks, writeFile: (*os.File).Write}
	if repaired, err = l.open(); err != nil {
		return nil, 0, err
	}
	return l, repaired, nil
}

func (l *RecordLog) open() (int64, error) {
	f, err := os.OpenFile(l.path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return 0, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return 0, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return 0, fmt.Errorf("%s is not a regular file", l.path)
	}
	size := fi.Size()
	keep, err := wholeRecords(l.path, size)
	if err != nil {
		f.Close()
		return 0, err
	}
	if keep < size {
		if err := f.Truncate(keep); err != nil {
			f.Close()
			return 0, fmt.Errorf("cutting a torn record off %s: %w", l.path, err)
		}
	}
	l.f, l.size = f, keep
	return size - keep, nil
}

// wholeRecords returns the length of the file's prefix that ends with a
// newline: everything after the last newline is a torn record.
func wholeRecords(path string, size int64) (int64, error) {
	if size == 0 {
		return 0, nil
	}
	r, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	buf := make([]byte, 64<<10)
	for end := size; end > 0; {
		start := max(0, end-int64(len(buf)))
		n, err := r.ReadAt(buf[:end-start], start)
		if err != nil && err != io.EOF {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}

// Write appends one record (p must end in a newline to stay a line of its
// own). On error nothing of p stays in the file.
func (l *RecordLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	err := l.write(p)
	if err != nil {
		l.failing = true
		if l.hooks.Failed != nil {
			l.hooks.Failed(err)
		}
		return 0, err
	}
	if l.failing {
		l.failing = false
		if l.hooks.Recovered != nil {
			l.hooks.Recovered()
		}
	}
	return len(p), nil
}

func (l *RecordLog) write(p []byte) error {
	if l.f == nil {
		// A failed rotation or reopen: try again with every record.
		if _, err := l.open(); err != nil {
			return err
		}
	}
	if l.size > 0 && l.size+int64(len(p)) > l.maxBytes {
		if err := l.rotate(); err != nil {
			return err
		}
	}
	n, err := l.writeFile(l.f, p)
	if err != nil || n != len(p) {
		if err == nil {
			err = io.ErrShortWrite
		}
		if n > 0 {
			// Cut the torn part off; if even that fails, reopening
			// repairs the file before the next record.
			if terr := l.f.Truncate(l.size); terr != nil {
				l.f.Close()
				l.f = nil
			}
		}
		return err
	}
	l.size += int64(n)
	return nil
}

// rotate shifts path → path.1 → … → path.N, deleting what falls off the
// end and saying so.
func (l *RecordLog) rotate() error {
	l.f.Close()
	l.f = nil
	drop := l.path
	if l.backups > 0 {
		drop = fmt.Sprintf("%s.%d", l.path, l.backups)
	}
	if fi, err := os.Stat(drop); err == nil {
		if err := os.Remove(drop); err != nil {
			return err
		}
		if l.hooks.Rotated != nil {
			l.hooks.Rotated(drop, fi.Size())
		}
	}
	for i := l.backups - 1; i >= 1; i-- {
		from := fmt.Sprintf("%s.%d", l.path, i)
		if _, err := os.Stat(from); err == nil {
			if err := os.Rename(from, fmt.Sprintf("%s.%d", l.path, i+1)); err != nil {
				return err
			}
		}
	}
	if l.backups > 0 {
		if err := os.Rename(l.path, l.path+".1"); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	_, err := l.open()
	return err
}

// Healthy reports whether the last write succeeded.
func (l *RecordLog) Healthy() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return !l.failing
}

// Close closes the file.
func (l *RecordLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// fanout writes each record to every sink independently: one failing sink
// (the file on a full disk) does not silence the others (stderr), as
// io.MultiWriter would.
type fanout []io.Writer

func (f fanout) Write(p []byte) (int, error) {
	var first error
	ok := false
	for _, w := range f {
		if _, err := w.Write(p); err != nil {
			if first == nil {
				first = err
			}
		} else {
			ok = true
		}
	}
	if !ok && first != nil {
		return 0, first
	}
	return len(p), nil
}
