package collector

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// CPUTimes is the aggregate "cpu" line of /proc/stat, in clock ticks.
type CPUTimes struct {
	// Idle is idle + iowait: time the CPU could have run Raft.
	Idle uint64
	// Total is user + nice + system + idle + iowait + irq + softirq +
	// steal (guest time is already counted in user).
	Total uint64
}

// ErrProcStat is wrapped by every /proc/stat parse error.
var ErrProcStat = errors.New("malformed /proc/stat")

// ParseProcStat reads the aggregate cpu line of /proc/stat.
func ParseProcStat(r io.Reader) (CPUTimes, error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 || fields[0] != "cpu" {
			continue
		}
		if len(fields) < 5 {
			return CPUTimes{}, fmt.Errorf("%w: cpu line has %d fields", ErrProcStat, len(fields)-1)
		}
		var v [8]uint64
		for i := 0; i < len(v) && i+1 < len(fields); i++ {
			n, err := strconv.ParseUint(fields[i+1], 10, 64)
			if err != nil {
				return CPUTimes{}, fmt.Errorf("%w: field %d of the cpu line: %v", ErrProcStat, i+1, err)
			}
			v[i] = n
		}
		t := CPUTimes{Idle: v[3] + v[4]}
		for _, x := range v {
			t.Total += x
		}
		return t, nil
	}
	if err := sc.Err(); err != nil {
		return CPUTimes{}, err
	}
	return CPUTimes{}, fmt.Errorf("%w: no aggregate cpu line", ErrProcStat)
}

// IdlePct is the idle share, 0–100, between two readings; ok is false when
// no time passed or the counters went backwards (a reset).
func IdlePct(prev, cur CPUTimes) (pct float64, ok bool) {
	if cur.Total <= prev.Total || cur.Idle < prev.Idle {
		return 0, false
	}
	return 100 * float64(cur.Idle-prev.Idle) / float64(cur.Total-prev.Total), true
}

// CPU measures the host's CPU idle share between successive calls, from
// /proc/stat (or another path in tests). It is not safe for concurrent use.
type CPU struct {
	Path string
	prev CPUTimes
	have bool
}

// IdlePct reads the counters and returns the idle share since the
// previous call; ok is false on the first call or when no time passed.
func (c *CPU) IdlePct() (pct float64, ok bool, err error) {
	path := c.Path
	if path == "" {
		path = "/proc/stat"
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	cur, err := ParseProcStat(f)
	if err != nil {
		return 0, false, fmt.Errorf("%s: %w", path, err)
	}
	prev, had := c.prev, c.have
	c.prev, c.have = cur, true
	if !had {
		return 0, false, nil
	}
	pct, ok = IdlePct(prev, cur)
	return pct, ok, nil
}
