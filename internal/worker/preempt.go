package worker

import (
	"sync/atomic"
	"time"
)

// preemptTick is the period of the timer a worker keeps while it runs
// calls, idleTick its period after a preemptTick without any (see
// preempter).
const (
	preemptTick = 50 * time.Millisecond
	idleTick    = 100 * time.Millisecond
)

// preempter keeps the Go runtime's monitor thread from its long sleep
// while calls run. That thread preempts a goroutine that has run for
// 10 ms and polls the network when no thread does; when every P of the
// process has been idle it sleeps until the next timer, or for a minute
// when there is none, and only a system call made through the runtime
// wakes it early. The data plane's reads are raw system calls that do
// not, so a call that computes without one would hold a GOMAXPROCS=1
// worker's only P until it returned: its cancel would not be read, nor
// the lifeline's end, nor a stop. So a timer is always pending: every
// preemptTick while calls run, every idleTick when none has for a
// preemptTick, which bounds that sleep, and so the time a computing call
// holds the P, to idleTick and the runtime's 10 ms after a quiet period.
// Nothing wakes the monitor thread early: a system call through the
// runtime would, but it also restarts the thread's polling at 20 µs,
// about sixty wake-ups taken from the calls each time the worker gets
// busy again.
type preempter struct {
	s     *server
	armed atomic.Bool
	timer *time.Timer
	// seen is lastEnd at the last tick.
	seen atomic.Int64
}

// newPreempter starts armed: a new worker's first calls come soon.
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
	if p.armed.CompareAndSwap(false, true) {
		p.timer.Reset(preemptTick)
	}
}

// tick keeps the short period while calls ran in the last one, and takes
// the idle period after one without any.
func (p *preempter) tick() {
	end := p.s.lastEnd.Load()
	if p.s.running.Load() > 0 || end != p.seen.Load() {
		p.seen.Store(end)
		p.timer.Reset(preemptTick)
		return
	}
	p.timer.Reset(idleTick)
	p.armed.Store(false)
	// A call that started before the store saw the timer armed: it arms
	// it again.
	if p.s.running.Load() > 0 {
		p.arm()
	}
}
