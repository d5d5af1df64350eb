package farm

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// EventType says what an [Event] reports.
type EventType uint8

// The events of a farm. A worker's life produces them in this order:
//
//   - fork when its process starts, then either error (the start failed;
//     nothing more of that worker) or online (and reload, for a worker
//     that Reload started);
//   - while online: message for each call it answers, retry and timeout as
//     they happen, ttl or idle when it is recycled (a worker that reached
//     its TTL still answers the calls it has, so message may follow ttl),
//     memory when it is replaced for its memory (the same), memory-kill
//     when it is killed for it;
//   - disconnect when it dies or is stopped, then retry or message for each
//     call it was running, then exit and close.
//
// A start that fails before the process exists reports error alone. Every
// call the farm accepted ends with exactly one message, even one that
// never reached a worker (cancelled while queued, farm killed): its Slot
// is then -1.
const (
	// EventFork: a worker process started (PID set).
	EventFork EventType = iota + 1
	// EventOnline: the worker completed its handshake and takes calls.
	EventOnline
	// EventMessage: a call was answered, for good (Err set on failure).
	EventMessage
	// EventDisconnect: the farm stopped talking to the worker (it died or
	// is being stopped).
	EventDisconnect
	// EventError: a worker failed to start (Err is a *StartError).
	EventError
	// EventClose: the worker's resources are released; nothing of it is left.
	EventClose
	// EventExit: the worker process ended (Exit set).
	EventExit
	// EventTTL: the worker took its Config.TTL-th call and is being replaced.
	EventTTL
	// EventIdle: the worker was idle Config.MaxIdleTime and is being replaced.
	EventIdle
	// EventRetry: a failed attempt will be retried (Err is its error,
	// Attempt its number).
	EventRetry
	// EventTimeout: an attempt ran past Config.Timeout (Err is a
	// *TimeoutError).
	EventTimeout
	// EventReload: Reload replaced a slot's worker. The event names the
	// new worker, of the new binary, which takes the slot's calls from
	// now on (its online event came just before); the old one finishes
	// its calls, then stops (disconnect, exit, close). One per slot and
	// Reload.
	EventReload
	// EventMemory: the worker's resident memory is over
	// Config.MaxWorkerMemory; its replacement is online, and the worker
	// finishes its calls and takes no more.
	EventMemory
	// EventMemoryKill: the worker's resident memory was over
	// Config.MaxWorkerMemoryHard and it is being killed; its disconnect
	// and exit follow, and its calls follow the retry policy.
	EventMemoryKill
)

var eventNames = [...]string{"", "fork", "online", "message", "disconnect", "error", "close", "exit", "ttl", "idle", "retry", "timeout", "reload", "memory", "memory-kill"}

// String returns the event's name as in the seed: "fork", "online"...
func (t EventType) String() string {
	if t > 0 && int(t) < len(eventNames) {
		return eventNames[t]
	}
	return fmt.Sprintf("EventType(%d)", t)
}

// Event is something that happened in a farm, as [Config].OnEvent receives
// it.
//
// Delivery: the farm queues each event as it happens, under its lock, and
// a goroutine of the farm hands them to the listener one at a time, in that
// order; so the events of a worker, and of a call, arrive in the order they
// happened. Queueing never blocks: a slow listener only delays its own
// events (they wait in memory), never a call. A listener that panics is
// logged at error level and keeps receiving the later events. Kill waits
// for the listener to receive the last events at most KillTimeout; a
// listener still busy then gets them after Kill returned. The listener may
// call the farm's methods (Stats, Run...); one that calls Kill or Shutdown
// delays them by KillTimeout.
type Event struct {
	// Type says what happened.
	Type EventType
	// Time is when it happened.
	Time time.Time
	// Slot is the worker's slot, 0 ≤ Slot < Workers; -1 for the message of
	// a call that no worker was running when it ended.
	Slot int
	// WorkerID numbers the farm's worker processes from 1, in start order;
	// 0 with Slot -1.
	WorkerID int
	// PID is the worker's process id; 0 when unknown (a start that failed
	// before the process existed, Slot -1). For an agent's worker it is
	// the process id on the agent's machine.
	PID int
	// Agent names the agent of a remote worker (see RemoteConfig); empty
	// for a local one.
	Agent string
	// CallID (numbered from 1 in submission order), Method and Attempt
	// (from 1; 0 for a call that never ran) identify the call, for
	// message, retry and timeout.
	CallID  uint64
	Method  string
	Attempt int
	// Err is the error, for message (on failure), error, retry and timeout.
	Err error
	// Exit says how the process ended (exit code, or signal), for exit.
	Exit *ExitStatus

	worker *worker // filled in by emitLocked
}

// emitLocked queues an event, filling in its time and its worker's
// identity when ev.worker is set; the caller holds the farm's lock, which
// orders the events.
func (f *Farm) emitLocked(ev Event) {
	if !f.ev.on(ev.Type) {
		return
	}
	ev.Time = time.Now()
	if w := ev.worker; w != nil {
		ev.Slot, ev.WorkerID, ev.PID, ev.Agent = w.slot.index, w.id, w.pid, w.agent
		ev.worker = nil
	}
	f.ev.push(ev)
}

// emitCallLocked queues an event of call c: attributed to the worker that
// runs (or ran) its current attempt while c is running, to no worker
// (Slot -1) while c waits in a queue or a retry backoff.
func (f *Farm) emitCallLocked(t EventType, c *call, err error) {
	if !f.ev.on(t) {
		return
	}
	ev := Event{Type: t, Slot: -1, CallID: c.id, Method: c.method, Attempt: int(c.attempt), Err: err}
	switch {
	case c.w != nil:
		ev.worker = c.w
	case c.state == stRunning:
		ev.Slot, ev.WorkerID, ev.PID = c.slot, c.wid, c.pid
		if c.slot >= 0 && c.slot < len(f.slots) {
			ev.Agent = f.slots[c.slot].agent
		}
	}
	f.emitLocked(ev)
}

// emitter delivers events to the listener on a goroutine of its own, in
// order, from an unbounded queue: pushing never blocks.
type emitter struct {
	fn   func(Event)
	mask uint64 // bit t: the listener takes events of type t; 0: all
	log  hclog.Logger
	wake chan struct{} // buffered: a push made the queue non-empty, or close
	done chan struct{} // closed when the goroutine has returned

	mu     sync.Mutex
	queue  []Event
	closed bool
}

func newEmitter(fn func(Event), mask uint64, log hclog.Logger) *emitter {
	e := &emitter{fn: fn, mask: mask, log: log}
	if fn != nil {
		e.wake = make(chan struct{}, 1)
		e.done = make(chan struct{})
		go e.run()
	}
	return e
}

// on reports whether the listener takes events of type t.
func (e *emitter) on(t EventType) bool {
	return e.fn != nil && (e.mask == 0 || e.mask&(1<<t) != 0)
}

// push queues ev; after close it drops it.
func (e *emitter) push(ev Event) {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return
	}
	e.queue = append(e.queue, ev)
	first := len(e.queue) == 1
	e.mu.Unlock()
	if first { // else the goroutine has a wake-up pending or is delivering
		e.signal()
	}
}

func (e *emitter) signal() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// run delivers the queued events in batches until the emitter is closed
// and its queue empty.
func (e *emitter) run() {
	defer close(e.done)
	var batch []Event
	for range e.wake {
		for {
			e.mu.Lock()
			batch, e.queue = e.queue, batch[:0]
			closed := e.closed
			e.mu.Unlock()
			if len(batch) == 0 {
				if closed {
					return
				}
				break
			}
			for _, ev := range batch {
				e.deliver(ev)
			}
			clear(batch)
			if cap(batch) > 4096 {
				batch = nil // do not keep a backlog's memory
			}
		}
	}
}

func (e *emitter) deliver(ev Event) {
	defer func() {
		if r := recover(); r != nil {
			e.log.Error("event listener panicked", "event", ev.Type.String(), "panic", r)
		}
	}()
	e.fn(ev)
}

// close stops taking events and waits up to timeout for the listener to
// receive those already queued; the goroutine delivers the rest, if any,
// on its own and then returns. It reports whether all were delivered.
func (e *emitter) close(timeout time.Duration) bool {
	if e.fn == nil {
		return true
	}
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	e.signal()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-e.done:
		return true
	case <-t.C:
		e.log.Warn("event listener still busy after KillTimeout; it gets the last events after Kill returned")
		return false
	}
}
