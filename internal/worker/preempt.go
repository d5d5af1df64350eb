package worker

import (
	"sync/atomic"
	"syscall"
	"time"
)

// preemptTick is the period of the timer a worker keeps while it runs
// calls (see preempter).
const preemptTick = 50 * time.Millisecond

// preempter keeps the Go runtime's monitor thread from its long sleep
// while calls run. That thread preempts a goroutine that has run for
// 10 ms and polls the network when no thread does; when every P of the
// process has been idle it sleeps until the next timer, or for a minute
// when there is none, and only a system call made through the runtime
// wakes it early. The data plane's reads are raw system calls that do
// not, so a call that computes without one would hold a GOMAXPROCS=1
// worker's only P until it returned: its cancel would not be read, nor
// the lifeline's end, nor a stop. So while calls run, a timer is pending
// every preemptTick, which bounds that sleep; the first call after a
// period without any wakes the thread with a system call of its own.
type preempter struct {
	s     *server
	armed atomic.Bool
	timer *time.Timer
	// seen is lastEnd at the last tick.
	seen atomic.Int64
}

// newPreempter starts armed: a new worker's first calls come soon, and
// the timer bounds the monitor thread's sleep from the start, without a
// system call to wake it.
func newPreempter(s *server) *preempter {
	p := &preempter{s: s}
	p.armed.Store(true)
	p.timer = time.AfterFunc(time.Hour, p.tick)
	p.timer.Reset(preemptTick) // once p.timer is set, for tick
	return p
}

// callStarting runs before each call; s.running counts it already.
func (p *preempter) callStarting() {
	if !p.armed.Load() {
		p.arm()
	}
}

func (p *preempter) arm() {
	if !p.armed.CompareAndSwap(false, true) {
		return
	}
	// Through the runtime's system call path: wakes the monitor thread if
	// it sleeps.
	syscall.Syscall(syscall.SYS_GETPID, 0, 0, 0)
	p.timer.Reset(preemptTick)
}

// tick keeps the timer while calls ran in the last period, and lets it go
// after a period without any.
func (p *preempter) tick() {
	end := p.s.lastEnd.Load()
	if p.s.running.Load() > 0 || end != p.seen.Load() {
		p.seen.Store(end)
		p.timer.Reset(preemptTick)
		return
	}
	p.armed.Store(false)
	// A call that started before the store saw the timer armed: it arms
	// it again.
	if p.s.running.Load() > 0 {
		p.arm()
	}
}
