package wire

import (
	"fmt"
	"strconv"
	"time"
)

// Idle spin: a side that waits for the other's next message polls its
// socket for a short window before it sleeps (RawConn.SetSpin), so that a
// caller that calls one at a time gets its answer, and the worker its next
// call, without the wake-up of a sleeping thread.
const (
	// EnvIdleSpin is a worker's window in microseconds, from 0 (off) to
	// 1,000,000; the host sets it from Config.IdleSpin.
	EnvIdleSpin = "WORKESTRATOR_IDLE_SPIN_US"
	// DefaultIdleSpin is the window of a side given none.
	DefaultIdleSpin = 50 * time.Microsecond
	// MaxIdleSpin is the longest window.
	MaxIdleSpin = time.Second
)

// ParseIdleSpin reads EnvIdleSpin's value v; empty is DefaultIdleSpin.
func ParseIdleSpin(v string) (time.Duration, error) {
	if v == "" {
		return DefaultIdleSpin, nil
	}
	us, err := strconv.ParseFloat(v, 64)
	if err != nil || !(us >= 0 && us <= float64(MaxIdleSpin/time.Microsecond)) {
		return 0, fmt.Errorf("%s=%q: want microseconds from 0 to %d", EnvIdleSpin, v, MaxIdleSpin/time.Microsecond)
	}
	return time.Duration(us * float64(time.Microsecond)), nil
}

// A Spinner decides a RawConn's idle spin (RawConn.SetSpin). It is used
// by the goroutine that reads the connection only.
type Spinner interface {
	// Keep reports whether a read that first found the socket empty at
	// start polls it again at now (Nanotimes).
	Keep(start, now int64) bool
	// Arrived is told that bytes came to a read that had found the
	// socket empty.
	Arrived()
}

// How a Spin learns whether polling pays: after spinMisses waits in a row
// whose message came after their window, a wait polls only once in
// spinProbe, until one's message comes within the window again.
const (
	spinMisses = 4
	spinProbe  = 16
)

// Spin is the Spinner of an idle spin: a wait polls until window has
// passed since the later of its start and last() (a Nanotime), while busy
// (nil: always) holds, and only while polling pays: a caller that calls
// one at a time gets its answer while the host polls, a caller that
// thinks longer than the window between its calls, or a call that runs
// longer, stops its polls (but for one probe in spinProbe waits, which
// turns them on again when messages come in time again). A wait that
// starts while busy is false neither polls nor counts.
type Spin struct {
	window int64
	last   func() int64
	busy   func() bool

	misses  int   // waits in a row whose message came after the window
	skipped int   // waits that did not poll since polling stopped paying
	wait    int64 // the start of the last wait Keep saw
	watched bool  // that wait polls and its message counts (once)
	late    bool  // that wait's window ended before its message came
}

// SpinAfter returns the Spin of window, last and busy.
func SpinAfter(window time.Duration, last func() int64, busy func() bool) *Spin {
	return &Spin{window: int64(window), last: last, busy: busy}
}

// Keep implements Spinner.
func (s *Spin) Keep(start, now int64) bool {
	switch {
	case start != s.wait:
		// A new wait; one busy excludes counts for nothing, not even a
		// probe.
		s.wait, s.late = start, false
		s.watched = s.busy == nil || s.busy()
		if s.watched && s.misses >= spinMisses {
			s.skipped++
			s.watched = s.skipped%spinProbe == 0
		}
	case !s.watched || s.late:
		return false
	case s.busy != nil && !s.busy():
		s.watched = false // no longer a wait polling is for
		return false
	}
	if !s.watched {
		return false
	}
	if now >= max(start, s.last())+s.window {
		s.late = true
		return false
	}
	return true
}

// Arrived implements Spinner.
func (s *Spin) Arrived() {
	if !s.watched {
		return
	}
	s.watched = false
	if !s.late {
		s.misses, s.skipped = 0, 0
	} else if s.misses < spinMisses {
		s.misses++
	}
}
