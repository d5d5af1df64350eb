package soak

import (
	"sync"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// eventLog keeps what the farm's event listener saw: each call's attempts,
// each worker's agent and end, every forked pid, the count of each type.
type eventLog struct {
	mu      sync.Mutex
	calls   map[uint64]*callLog // by call id
	workers map[int]*workerLog  // by worker id
	pids    []int               // every forked worker
	types   map[farm.EventType]int
}

// callLog is what the events say of one call.
type callLog struct {
	answers  int       // message events
	attempts int       // attempts made, as its message event says
	retried  []attempt // its failed attempts that were retried, in order
	last     attempt   // its last attempt, as its message event says
}

// attempt is one attempt of a call: the worker it ran on (0: none), its
// error (nil: answered with a result) and when it ended.
type attempt struct {
	worker int
	err    error
	at     time.Time
}

// workerLog is what the events say of one worker.
type workerLog struct {
	agent string    // its agent, "" for a local worker
	exit  time.Time // when it ended; zero while it runs
}

func newEventLog() *eventLog {
	return &eventLog{calls: map[uint64]*callLog{}, workers: map[int]*workerLog{}, types: map[farm.EventType]int{}}
}

func (e *eventLog) on(ev farm.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.types[ev.Type]++
	switch ev.Type {
	case farm.EventMessage:
		c := e.call(ev.CallID)
		c.answers++
		c.attempts = ev.Attempt
		c.last = attempt{ev.WorkerID, ev.Err, ev.Time}
	case farm.EventRetry:
		c := e.call(ev.CallID)
		c.retried = append(c.retried, attempt{ev.WorkerID, ev.Err, ev.Time})
	case farm.EventFork:
		e.pids = append(e.pids, ev.PID)
		e.workers[ev.WorkerID] = &workerLog{agent: ev.Agent}
	case farm.EventExit:
		if w := e.workers[ev.WorkerID]; w != nil {
			w.exit = ev.Time
		}
	}
}

func (e *eventLog) call(id uint64) *callLog {
	c := e.calls[id]
	if c == nil {
		c = &callLog{}
		e.calls[id] = c
	}
	return c
}

// answered counts the calls with a message event.
func (e *eventLog) answered() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, c := range e.calls {
		if c.answers > 0 {
			n++
		}
	}
	return n
}
