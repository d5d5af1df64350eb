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

// SpinAfter is a RawConn keep function: polling goes on until window has
// passed since the later of the read's start and *last (a Nanotime),
// while busy (nil: always) holds.
func SpinAfter(window time.Duration, last func() int64, busy func() bool) func(start, now int64) bool {
	w := int64(window)
	return func(start, now int64) bool {
		return (busy == nil || busy()) && now < max(start, last())+w
	}
}
