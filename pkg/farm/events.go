package farm

import (
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/pkg/plugin"
)

// EventType says what an [Event] reports.
type EventType uint8

// The events of a farm, in the order a worker's life produces them: fork,
// online, then message (one per answered call), retry and timeout as they
// happen, ttl or idle when it is recycled, then disconnect, exit, close.
// error reports a failed start.
const (
	// EventFork: a worker process started (PID set).
	EventFork EventType = iota + 1
	// EventOnline: the worker completed its handshake and takes calls.
	EventOnline
	// EventMessage: a call was answered (Err set on failure).
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
	// EventTTL: the worker reached Config.TTL calls and is being replaced.
	EventTTL
	// EventIdle: the worker was idle Config.MaxIdleTime and is being replaced.
	EventIdle
	// EventRetry: a failed attempt will be retried (Err is its error).
	EventRetry
	// EventTimeout: an attempt ran past Config.Timeout.
	EventTimeout
)

var eventNames = [...]string{"", "fork", "online", "message", "disconnect", "error", "close", "exit", "ttl", "idle", "retry", "timeout"}

// String returns the event's name as in the seed: "fork", "online"...
func (t EventType) String() string {
	if int(t) < len(eventNames) && t > 0 {
		return eventNames[t]
	}
	return fmt.Sprintf("EventType(%d)", t)
}

// Event is something that happened in a farm.
type Event struct {
	// Type says what happened.
	Type EventType
	// Time is when it happened.
	Time time.Time
	// Slot is the worker's slot (0 ≤ Slot < Workers); -1 when none.
	Slot int
	// WorkerID numbers the farm's worker processes from 1, in start order.
	WorkerID int
	// PID is the worker's process id; 0 when unknown.
	PID int
	// CallID, Method and Attempt identify the call, for message, retry
	// and timeout.
	CallID  uint64
	Method  string
	Attempt int
	// Err is the error, for message (on failure), error, retry and timeout.
	Err error
	// Exit says how the process ended, for exit.
	Exit *plugin.ExitStatus

	worker *worker
}

// emitter delivers events to the listener on a goroutine of its own, in
// order, from an unbounded queue: emitting never blocks.
type emitter struct {
	fn    func(Event)
	log   hclog.Logger
	mu    sync.Mutex
	queue []Event
	wake  chan struct{}
	done  chan struct{}
}

func newEmitter(fn func(Event), log hclog.Logger) *emitter {
	e := &emitter{fn: fn, log: log}
	if fn != nil {
		e.wake = make(chan struct{}, 1)
		e.done = make(chan struct{})
		go e.run()
	}
	return e
}

func (e *emitter) on() bool { return e.fn != nil }

// emitLocked queues an event, filling in its worker's identity.
func (f *Farm) emitLocked(ev Event) {
	if !f.ev.on() {
		return
	}
	ev.Time = time.Now()
	if w := ev.worker; w != nil {
		ev.Slot, ev.WorkerID, ev.PID = w.slot.index, w.id, w.pid
		ev.worker = nil
	} else if ev.WorkerID == 0 && ev.PID == 0 && ev.Slot == 0 && ev.Type != EventError {
		ev.Slot = -1
	}
	f.ev.push(ev)
}

func (e *emitter) push(ev Event) {
	e.mu.Lock()
	e.queue = append(e.queue, ev)
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *emitter) run() {
	defer close(e.done)
	var batch []Event
	for {
		_, open := <-e.wake
		e.mu.Lock()
		batch, e.queue = e.queue, batch[:0]
		e.mu.Unlock()
		for _, ev := range batch {
			e.deliver(ev)
		}
		clear(batch)
		if !open {
			return
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

// close delivers the events still queued and stops the goroutine.
func (e *emitter) close() {
	if e.fn == nil {
		return
	}
	close(e.wake)
	<-e.done
}
