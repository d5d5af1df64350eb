package farm

import (
	"context"
	"errors"
	"time"

	"github.com/workestrator/workestrator/internal/host"
)

type workerState uint8

const (
	workerOnline   workerState = iota // takes calls
	workerRetiring                    // finishes its calls, takes no more
	workerStopping                    // asked to exit
	workerDead                        // gone
)

// worker is one worker process of a slot. Guarded by the farm's lock.
type worker struct {
	slot    *slot
	id      int
	pid     int
	conn    workerConn
	state   workerState
	stopReq chan struct{} // closed to ask the watcher to stop the process

	inflight map[uint64]*call // by wire id; nil value: an abandoned attempt
	pending  int              // entries in inflight
	zombies  int              // abandoned entries in inflight
	calls    int              // attempts dispatched, for TTL
	answered int              // attempts answered
	heard    int64            // the farm's clock at its last answer
	hungAt   int64            // the farm's clock when it was found ignoring a cancel; 0: never
	// burst: its last message of answers held several, whose callers may
	// be about to call again; the next call a caller dispatches to it
	// waits for theirs in the batcher instead of going alone.
	burst bool
	// wake holds the calls its last message of answers settled, woken once
	// the farm's lock is released; used by its receive goroutine only.
	wake     []*call
	started  time.Time
	idle     *time.Timer
	idleFrom time.Time
	park     *time.Timer // stops it, idle above MinWorkers (see scale.go)
	parkFrom time.Time

	// rawBytes: it takes []byte arguments as they are (wire.FeatureRawBytes).
	rawBytes bool
	// alone is the wire id of the last attempt started on it of a call
	// that must run alone; while that attempt is in flight, the worker
	// takes no other call.
	alone uint64

	mem memState // its resident memory, with a memory limit (memory.go)

	// agent names the agent of a remote worker (remote_host.go), whose
	// capacity is its agent's per-worker cap and prefetch.
	agent    string
	capacity int
}

// online reports whether w takes calls.
func (w *worker) online() bool { return w != nil && w.state == workerOnline }

// hasRoom reports whether w may take one more call: online, below
// MaxConcurrentCallsPerWorker, and not running a call alone.
func (w *worker) hasRoom() bool {
	if !w.online() || (w.slot.remote && w.pid == 0) { // an agent's slot without a worker
		return false
	}
	limit := w.capacity // an agent's worker's
	if limit == 0 {
		limit = w.slot.f.cfg.MaxConcurrentCallsPerWorker
	}
	if w.pending >= limit {
		return false
	}
	if w.alone != 0 {
		if _, running := w.inflight[w.alone]; running {
			return false
		}
		w.alone = 0 // that attempt is over
	}
	return true
}

func (w *worker) stopIdleTimer() {
	if w.idle != nil {
		w.idle.Stop()
	}
	if w.park != nil {
		w.park.Stop()
	}
}

// slot is one of the farm's Workers places. Its supervisor goroutine keeps
// a worker in it: starts one, and a replacement whenever the current one
// dies or retires, with a backoff when starts keep failing.
type slot struct {
	f     *Farm
	index int
	wake  chan struct{}

	// Guarded by the farm's lock.
	cur          *worker   // the worker taking calls, nil while starting
	standby      *worker   // started early to replace cur at its TTL
	wantStandby  bool      // cur nears its TTL: start its replacement
	old          []*worker // retiring workers finishing their calls
	pinned       deque[*call]
	keyed        prioQueue // calls whose sticky key routed them here (sticky.go)
	startingKill func()    // kills the process being started; nil if none
	bin          binary    // what the slot's workers run
	gen          int       // changes on a reload or a scale-down: a start begun before is discarded
	failures     int       // consecutive failed starts or early deaths
	restarts     int
	parked       bool // elastic, with no worker and none wanted (see scale.go)
	// remote: the slot holds a worker of an agent (remote_host.go), named
	// agent while it does.
	remote bool
	agent  string
}

func (s *slot) wakeup() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// workers returns the slot's live workers.
func (s *slot) workers() []*worker {
	ws := s.old[:len(s.old):len(s.old)]
	if s.cur != nil {
		ws = append(ws, s.cur)
	}
	if s.standby != nil {
		ws = append(ws, s.standby)
	}
	return ws
}

// needsStartLocked reports whether the slot needs a worker process started.
func (s *slot) needsStartLocked() bool {
	return s.f.state != farmKilled && !s.parked && (s.cur == nil || (s.wantStandby && s.standby == nil))
}

// promoteLocked makes the standby, if any, the slot's current worker; it
// runs when the current worker leaves.
func (s *slot) promoteLocked() {
	s.wantStandby = false
	if s.cur != nil || !s.standby.online() { // none, or dying
		return
	}
	s.cur, s.standby = s.standby, nil
	s.f.workerChangedLocked(s.cur)
}

// killStarting kills a process being started, so that Kill need not wait
// for its handshake.
func (s *slot) killStarting() {
	if s.startingKill != nil {
		s.startingKill()
	}
}

// supervise is the slot's owner goroutine once its first worker is online
// (see Farm.startAll).
func (s *slot) supervise() {
	f := s.f
	defer f.wg.Done()
	var retry *time.Timer
	var retryC <-chan time.Time
	for {
		waited := false
		select {
		case <-f.killed:
			if retry != nil {
				retry.Stop()
			}
			return
		case <-s.wake:
			if retryC != nil {
				continue // a backoff is running
			}
		case <-retryC:
			retry, retryC, waited = nil, nil, true
		}
		f.mu.Lock()
		need := s.needsStartLocked()
		delay := s.backoffLocked()
		f.mu.Unlock()
		if !need {
			continue
		}
		if delay > 0 && !waited {
			retry = time.NewTimer(delay)
			retryC = retry.C
			continue
		}
		if err := s.start(); err != nil {
			s.wakeup() // try again, after the backoff
		}
	}
}

// backoffLocked is the wait before the next start: none after one failure,
// then 50 ms doubling up to 5 s.
func (s *slot) backoffLocked() time.Duration {
	if s.failures < 2 {
		return 0
	}
	d := 50 * time.Millisecond
	for i := 2; i < s.failures && d < 5*time.Second; i++ {
		d *= 2
	}
	return min(d, 5*time.Second)
}

// start launches a worker of the slot's binary into the slot.
func (s *slot) start() error {
	f := s.f
	f.mu.Lock()
	bin, gen := s.bin, s.gen
	f.mu.Unlock()
	w, err := s.spawn(context.Background(), bin, nil, &s.startingKill)
	f.mu.Lock()
	if err != nil && f.state == farmKilled {
		f.startKilledLocked(w)
		f.mu.Unlock()
		return ErrFarmKilled
	}
	if err != nil {
		serr := &StartError{Slot: s.index, Err: err}
		s.failures++
		f.st.startFailures++
		f.emitLocked(Event{Type: EventError, Err: serr, Slot: s.index, WorkerID: w.id, PID: w.pid})
		if f.state != farmKilled {
			f.log.Warn("worker failed to start", "slot", s.index, "error", err)
			f.startFailedLocked(s, serr)
		}
		f.mu.Unlock()
		return serr
	}
	if f.state == farmKilled || s.gen != gen {
		// Killed, or the slot was reloaded while it started: it runs the
		// old binary.
		killed := f.state == farmKilled
		f.mu.Unlock()
		f.discard(w)
		if killed {
			return ErrFarmKilled
		}
		return nil
	}
	if s.cur == nil {
		s.cur = w
	} else {
		// Started early: it takes over when the current worker retires.
		s.standby, s.wantStandby = w, false
	}
	var fl flushList
	f.onlineLocked(w, &fl)
	f.mu.Unlock()
	fl.flush()
	return nil
}

// onlineLocked puts w, just placed in its slot, to work: its watcher runs
// and the queue is dispatched; fl gets the connections to flush once the
// lock is released.
func (f *Farm) onlineLocked(w *worker, fl *flushList) {
	s := w.slot
	f.emitLocked(Event{Type: EventOnline, worker: w})
	f.log.Debug("worker online", "slot", s.index, "pid", w.pid, "standby", s.standby == w)
	f.wg.Add(1)
	go f.watch(w)
	f.workerChangedLocked(w)
	f.memStandbyOnlineLocked(s)
	f.dispatchLocked(fl)
}

// startKilledLocked reports the end of a start that Kill interrupted: not a
// failure of the worker.
func (f *Farm) startKilledLocked(w *worker) {
	if w.pid > 0 {
		f.st.exited++
		f.emitLocked(Event{Type: EventClose, worker: w})
	}
}

// startFailedLocked fails the calls that cannot run: the slot's broadcast
// calls, and every queued call when no worker is online at all.
func (f *Farm) startFailedLocked(s *slot, err error) {
	f.failPinnedLocked(s, err)
	for _, o := range f.slots {
		if o.cur != nil {
			return
		}
	}
	for f.isolated.len() > 0 {
		if c := f.isolated.popFront(); c.state != stDone {
			f.queued--
			f.settleLocked(c, nil, err)
		}
	}
	for c := f.queue.next(); c != nil; c = f.queue.next() {
		f.queued--
		f.settleLocked(f.queue.pop(), nil, err)
	}
}

// failPinnedLocked fails the broadcast calls waiting for s with err.
func (f *Farm) failPinnedLocked(s *slot, err error) {
	for s.pinned.len() > 0 {
		if c := s.pinned.popFront(); c.state != stDone {
			f.queued--
			f.settleLocked(c, nil, err)
		}
	}
}

// watch owns a worker process once it is online: it waits for its death or
// a stop request, stops the process and settles what it was running.
func (f *Farm) watch(w *worker) {
	defer f.wg.Done()
	planned := false
	select {
	case <-w.conn.Exited():
	case <-w.conn.Done():
	case <-w.stopReq:
		planned = true
	}
	f.mu.Lock()
	if !planned {
		// Dead or cut off: it takes no call while its process is stopped,
		// which lasts KillTimeout when a child of it holds its pipes.
		f.dyingLocked(w)
	}
	f.emitLocked(Event{Type: EventDisconnect, worker: w})
	f.mu.Unlock()
	// Gone, its last answers delivered: it leaves its slot and its calls
	// are retried at once, before its pipes are waited for (KillTimeout
	// when a child of it holds them).
	early := !planned && !w.slot.remote && f.exitedAndDrained(w, f.cfg.KillTimeout/10)
	if early {
		f.gone(w, planned)
	}
	w.conn.Stop(f.cfg.KillTimeout)
	if !early {
		f.gone(w, planned)
	}
	f.mu.Lock()
	f.emitLocked(Event{Type: EventClose, worker: w})
	f.mu.Unlock()
}

// gone runs goneLocked for w, whose process has ended, and flushes what
// it started.
func (f *Farm) gone(w *worker, planned bool) {
	status := w.conn.ExitStatus()
	var fl flushList
	f.mu.Lock()
	f.goneLocked(w, status, planned, &fl)
	f.mu.Unlock()
	fl.flush()
}

// goneLocked takes w, whose process ended with status, out of its slot,
// settles its calls, counts and reports its end and starts its
// replacement.
func (f *Farm) goneLocked(w *worker, status ExitStatus, planned bool, fl *flushList) {
	s := w.slot
	w.state = workerDead
	w.stopIdleTimer()
	if s.cur == w {
		s.cur = nil
		s.promoteLocked()
		f.rerouteLocked(s)
	}
	if s.standby == w {
		s.standby = nil
	}
	for i, o := range s.old {
		if o == w {
			s.old = append(s.old[:i], s.old[i+1:]...)
			break
		}
	}
	exitErr := f.exitErrorLocked(w, status)
	f.failInflightLocked(w, exitErr)
	f.st.exited++
	if !planned {
		f.st.crashed++
		if w.mem.killed != nil {
			f.st.memoryKilled++ // counted with the crash it is one of
		}
		// A worker that never answered counts as a failed start (a crash
		// loop backs off); one that did resets the count.
		if w.answered == 0 {
			s.failures++
		} else {
			s.failures = 0
		}
		if f.state != farmKilled {
			if s.remote {
				f.log.Warn("agent's worker lost", "slot", s.index, "agent", w.agent, "pid", w.pid, "error", exitErr.Cause)
			} else {
				f.log.Warn("worker terminated", "slot", s.index, "pid", w.pid, "status", status.String())
			}
		}
	} else {
		f.log.Debug("worker stopped", "slot", s.index, "pid", w.pid, "status", status.String(), "answered", w.answered)
	}
	if planned && w.answered > 0 {
		s.failures = 0
	}
	f.emitLocked(Event{Type: EventExit, worker: w, Exit: &status})
	if s.remote {
		// Its broadcast calls cannot run anywhere else.
		f.failPinnedLocked(s, exitErr)
		f.remote.slotFreedLocked(s)
	} else if f.state != farmKilled {
		s.restarts++
		s.wakeup()
	}
	f.dispatchLocked(fl)
}

// retireLocked stops giving w calls and starts its replacement at once; w
// stops when its last live call is answered.
//
// An agent's worker is not retired: its agent recycles its processes.
func (f *Farm) retireLocked(w *worker) {
	if w.state != workerOnline || w.slot.remote {
		return
	}
	f.st.recycled++
	f.dropWorkerLocked(w)
}

// dropWorkerLocked stops giving w calls, starts its replacement if the slot
// wants one, and stops w when its last live call is answered.
func (f *Farm) dropWorkerLocked(w *worker) {
	w.state = workerRetiring
	w.stopIdleTimer()
	s := w.slot
	if s.cur == w {
		s.cur = nil
		s.old = append(s.old, w)
		s.promoteLocked()
		f.rerouteLocked(s)
	}
	if f.state != farmKilled && s.needsStartLocked() {
		s.wakeup()
	}
	f.maybeStopLocked(w)
}

// maybeStopLocked asks a retiring worker with no live call to stop.
func (f *Farm) maybeStopLocked(w *worker) {
	if w.state == workerRetiring && w.pending-w.zombies == 0 {
		f.stopWorkerLocked(w)
	}
}

// exitedAndDrained reports whether w's process has exited and its data
// plane has delivered the last answers it sent, waiting at most bound for
// both (the data plane of a killed worker may end just before the process
// is reaped; a process that inherited the socket may keep it open) and not
// at all once the farm is killed.
func (f *Farm) exitedAndDrained(w *worker, bound time.Duration) bool {
	t := time.NewTimer(bound)
	defer t.Stop()
	for _, ch := range []<-chan struct{}{w.conn.Exited(), w.conn.Done()} {
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-f.killed:
			return false
		}
	}
	return true
}

// exitErrorLocked is the error of the calls w was running when its
// process ended with status.
func (f *Farm) exitErrorLocked(w *worker, status ExitStatus) *WorkerExitError {
	err := &WorkerExitError{Slot: w.slot.index, Agent: w.agent, PID: w.pid, Status: status}
	if cause := w.conn.Err(); cause != nil && !errors.Is(cause, host.ErrConnClosed) {
		err.Cause = cause
	}
	if w.mem.killed != nil {
		err.Cause = w.mem.killed
	}
	return err
}

// failInflightLocked ends with err the attempts w was running.
func (f *Farm) failInflightLocked(w *worker, err *WorkerExitError) {
	for wire, c := range w.inflight {
		delete(w.inflight, wire)
		if c != nil {
			// One of them may have killed the worker: they are retried at
			// once like any failed attempt, and one that was in flight at
			// a second death runs alone from then on. An agent lost took
			// no call down (its workers' crashes are answers of their
			// own).
			if !w.slot.remote {
				c.crashed()
			}
			f.attemptFailedLocked(c, err)
		}
	}
	w.pending, w.zombies = 0, 0
}

// dyingLocked makes w, whose process died or is being killed, take no
// more calls; its watcher settles the calls it has.
func (f *Farm) dyingLocked(w *worker) {
	if w.state == workerOnline || w.state == workerRetiring {
		w.state = workerStopping
		w.stopIdleTimer()
	}
}

// stopWorkerLocked asks w's watcher to stop the process.
func (f *Farm) stopWorkerLocked(w *worker) {
	if w.state == workerStopping || w.state == workerDead {
		return
	}
	w.state = workerStopping
	close(w.stopReq)
}

// workerChangedLocked runs after w's calls changed: a retiring worker may
// stop, an idle one starts its idle clock.
func (f *Farm) workerChangedLocked(w *worker) {
	if w.state == workerRetiring {
		f.maybeStopLocked(w)
		return
	}
	if w.state != workerOnline || w.pending > 0 || w.slot.cur != w || w.slot.remote {
		return
	}
	f.scaleDownLaterLocked(w)
	if f.cfg.MaxIdleTime <= 0 {
		return
	}
	w.idleFrom = time.Now()
	if w.idle == nil {
		w.idle = time.AfterFunc(f.cfg.MaxIdleTime, func() { f.onIdle(w) })
	} else {
		w.idle.Reset(f.cfg.MaxIdleTime)
	}
}

func (f *Farm) onIdle(w *worker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if w.state != workerOnline || w.pending > 0 || f.state == farmKilled || w.slot.cur != w {
		return
	}
	if left := f.cfg.MaxIdleTime - time.Since(w.idleFrom); left > 0 {
		w.idle.Reset(left) // it was busy in between
		return
	}
	f.log.Debug("worker idle; recycling it", "slot", w.slot.index, "pid", w.pid)
	f.emitLocked(Event{Type: EventIdle, worker: w})
	f.retireLocked(w)
}
