package farm

import (
	"context"
	"errors"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// enqueueLocked puts a call in its queue: the farm's, at its priority
// level, or its slot's for a broadcast; a retried call goes to the front
// (of its level).
func (f *Farm) enqueueLocked(c *call, front bool) {
	if c.attempt > 0 && f.pinGoneLocked(c) {
		f.settleLocked(c, nil, f.pinGoneErrLocked(c))
		return
	}
	c.state = stQueued
	if c.attempt > 0 {
		c.submitted = f.clock() // a retry's queue wait starts now
	}
	f.queued++
	var q *deque[*call]
	switch {
	case c.pin != nil:
		q = &c.pin.pinned
		if s := c.pin; s.parked && f.state == farmRunning {
			// Scaled down since the broadcast chose it: start it again.
			s.parked = false
			f.parkedSlots--
			s.wakeup()
		}
	case c.mustRunAlone():
		q = &f.isolated
	case c.keyed():
		if s := f.routeLocked(c.opts.key); s != nil {
			s.keyed.push(c, front) // see sticky.go
			f.keyed++
			return
		}
		f.queue.push(c, front)
		return
	default:
		f.queue.push(c, front) // at its priority level
		return
	}
	if front {
		q.pushFront(c)
	} else {
		q.pushBack(c)
	}
}

// dispatchLocked sends queued calls to available workers: broadcast calls
// to their slot, calls that must run alone to an idle worker, keyed calls
// to their slot (sticky.go), then the queue (by priority, FIFO within a level) to the available worker with the fewest calls in flight (ties to
// the lowest slot). It adds to fl the workers whose connection must be
// flushed once the lock is released.
//
// Which worker may take which call is derived here, from the workers' and
// the queues' state, on every dispatch; nothing is reserved between two
// dispatches, so a call that leaves (answered elsewhere, cancelled, failed)
// holds nothing afterwards.
func (f *Farm) dispatchLocked(fl *flushList) {
	if f.state == farmKilled {
		return
	}
	// Broadcast calls go to their slot's worker whatever the drain below:
	// there are at most a few per slot, each answered in its time.
	for _, s := range f.slots {
		for s.pinned.len() > 0 {
			if s.pinned.front().state == stDone {
				s.pinned.popFront() // cancelled while queued
				continue
			}
			w := s.cur
			if !w.hasRoom() {
				break
			}
			f.startLocked(s.pinned.popFront(), w, fl)
		}
	}
	var drain drainSet
	f.dispatchAloneLocked(&drain, fl)
	f.dispatchKeyedLocked(&drain, fl)
	for f.queue.len() > 0 {
		if f.queue.next() == nil {
			break // only calls cancelled while queued, now dropped
		}
		w := f.pickLocked(&drain)
		if w == nil {
			break
		}
		f.startLocked(f.queue.pop(), w, fl)
	}
	if f.parkedSlots > 0 && (f.queue.len() > 0 || f.isolated.len() > 0 || f.keyed > 0) {
		f.scaleUpLocked()
	}
}

// dispatchAloneLocked runs each call that must run alone (see
// call.mustRunAlone) on an idle worker. For the calls still waiting it
// puts into drain the least busy workers, one per call: they finish their
// calls and take no other from the queue in this dispatch, so that one of
// them becomes idle.
func (f *Farm) dispatchAloneLocked(drain *drainSet, fl *flushList) {
	for f.isolated.len() > 0 {
		if f.isolated.front().state == stDone {
			f.isolated.popFront()
			continue
		}
		idle := f.idleWorkerLocked()
		if idle == nil {
			break
		}
		f.startLocked(f.isolated.popFront(), idle, fl)
	}
	waiting := 0
	for i := range f.isolated.len() {
		if f.isolated.at(i).state != stDone {
			waiting++
		}
	}
	for range min(waiting, len(f.slots)) {
		w := f.pickLocked(drain)
		if w == nil {
			break
		}
		drain.add(w)
	}
}

// idleWorkerLocked returns the online worker of the lowest slot with
// nothing in flight, or nil.
func (f *Farm) idleWorkerLocked() *worker {
	for _, s := range f.slots {
		if w := s.cur; w.online() && w.pending == 0 {
			return w
		}
	}
	return nil
}

// pickLocked returns the worker that may take an ordinary call (online,
// with room, not running a call alone, not in drain) with the fewest calls
// in flight, the lowest slot on ties, or nil.
func (f *Farm) pickLocked(drain *drainSet) *worker {
	var best *worker
	for _, s := range f.slots {
		if w := s.cur; w.hasRoom() && !drain.has(w) && (best == nil || w.pending < best.pending) {
			best = w
		}
	}
	return best
}

// drainSet holds, for one dispatch, the workers kept from taking queued
// calls so that a call waiting to run alone gets one of them.
type drainSet struct {
	n    int
	ws   [2]*worker
	more []*worker
}

func (d *drainSet) add(w *worker) {
	if d.n < len(d.ws) {
		d.ws[d.n] = w
		d.n++
		return
	}
	d.more = append(d.more, w)
}

func (d *drainSet) has(w *worker) bool {
	for _, x := range d.ws[:d.n] {
		if x == w {
			return true
		}
	}
	for _, x := range d.more {
		if x == w {
			return true
		}
	}
	return false
}

// startLocked sends one attempt of c to w.
func (f *Farm) startLocked(c *call, w *worker, fl *flushList) {
	f.queued--
	if o := c.opts; o != nil && o.expires != 0 && fl.clock(f) >= o.expires {
		f.settleLocked(c, nil, errBudget) // a relayed call whose budget ran out while queued
		return
	}
	f.nextWire++
	c.state = stRunning
	c.attempt++
	c.wire = f.nextWire
	c.w = w
	c.dispatched = max(fl.clock(f), c.submitted) // a retry queued since the clock was read
	f.st.queueWait.add(time.Duration(c.dispatched - c.submitted))
	w.inflight[c.wire] = c
	c.dest.Arm(c.wire) // this attempt's answer, and no other, may fill it
	w.pending++
	w.calls++
	if c.mustRunAlone() {
		w.alone = c.wire
	}
	w.stopIdleTimer()
	timeout := c.timeout()
	if t := timeout; t > 0 {
		wire := c.wire
		c.timer = time.AfterFunc(t, func() { f.onTimeout(c, wire) })
	}
	req := wire.Request{
		ID:         c.wire,
		Method:     c.method,
		Serializer: c.serializer(),
		Args:       c.args,
		Timeout:    timeout,
		RawArgs:    c.rawArgs,
		Loan:       c.loan,
		Dest:       c.dest,
	}
	if w.slot.remote {
		// The agent gets the time the attempt has left, the caller's
		// deadline included: clocks differ between machines.
		if d, ok := c.ctx.Deadline(); ok {
			if left := time.Until(d); timeout == 0 || left < timeout {
				req.Timeout = max(left, time.Microsecond)
			}
		}
	}
	if c.rawArgs != 0 && !w.rawBytes {
		req.Loan = nil // encoded copies
		req.Args, req.RawArgs = f.encodeRaw(c.args, c.rawArgs), 0
	}
	if w.conn.Enqueue(req) {
		if (w.pending == 1 && !w.burst) || (fl.inline && !w.slot.remote) {
			// Alone, or started after answers, all enqueued by now: the
			// dispatching goroutine sends them once the lock is released.
			// Handing them to the socket's sender goroutine instead would
			// wake a thread, on a CPU that a worker may be running on.
			fl.add(w)
		} else {
			w.conn.Wake() // more to come: the sender batches them
		}
	}
	w.burst = false
	if w.slot.remote {
		return // its agent applies its own TTL
	}
	if ttl := f.cfg.TTL; ttl > 0 && w.calls >= ttl-ttl/4 && w.slot.cur == w && w.slot.standby == nil && !w.slot.wantStandby {
		// Start the replacement early, so that capacity does not drop
		// while it starts.
		w.slot.wantStandby = true
		w.slot.wakeup()
	}
	if ttl := f.cfg.TTL; ttl > 0 && w.calls >= ttl {
		f.log.Debug("worker reached its TTL; recycling it", "slot", w.slot.index, "pid", w.pid, "calls", w.calls)
		f.emitLocked(Event{Type: EventTTL, worker: w})
		f.retireLocked(w)
	}
}

// flushList gathers, under the farm's lock, the workers whose connection
// must be flushed once the lock is released. The first few are kept in the
// list itself, on its maker's stack.
type flushList struct {
	n    int
	ws   [4]*worker
	more []*worker
	// now is the farm's clock when the dispatch started its first call:
	// the calls it starts together share it.
	now int64
	// inline is set when the dispatch follows answers (Farm.answer): what
	// it starts on local workers is flushed by the goroutine that took the
	// answers, never handed to the connections' senders with Wake.
	inline bool
}

// clock is the farm's clock, read once per dispatch.
func (l *flushList) clock(f *Farm) int64 {
	if l.now == 0 {
		l.now = f.clock()
	}
	return l.now
}

func (l *flushList) add(w *worker) {
	for _, x := range l.ws[:l.n] {
		if x == w {
			return
		}
	}
	if l.n < len(l.ws) {
		l.ws[l.n] = w
		l.n++
		return
	}
	for _, x := range l.more {
		if x == w {
			return
		}
	}
	l.more = append(l.more, w)
}

// flush sends what dispatch enqueued; called without the farm's lock.
func (l *flushList) flush() {
	for _, w := range l.ws[:l.n] {
		w.conn.Flush()
	}
	for _, w := range l.more {
		w.conn.Flush()
	}
}

// onResponses settles the calls a worker answered; it runs on the
// connection's receive goroutine.
func (f *Farm) onResponses(w *worker, rs []wire.Response) { f.answer(w, rs, &w.wake) }

// answer settles the calls of rs that w ran; the callers it answers are
// woken through wake, which belongs to the calling goroutine.
func (f *Farm) answer(w *worker, rs []wire.Response, wake *[]*call) {
	now := f.clock()
	// The callers are woken once the lock is released, so that they do
	// not wait for it to call again.
	f.mu.Lock()
	f.wakeLater = wake
	for i := range rs {
		r := &rs[i]
		c, ok := w.inflight[r.ID]
		if !ok {
			continue
		}
		if errors.Is(r.Err, wire.ErrArenaClosed) {
			// The connection is closing under the reply: its end fails
			// the call once, with the worker's exit, as it fails every
			// call in flight; retried here, it could go back to the same
			// worker before that one is marked dead.
			continue
		}
		if c != nil && r.Failure != nil && r.Failure.Code == workerpb.Error_CANCELED && w.state == workerStopping {
			// The farm stops w while it runs c (the other calls of a
			// worker that ignores cancellation): the stop cancelled c,
			// which fails with w's exit and is retried.
			continue
		}
		delete(w.inflight, r.ID)
		w.pending--
		w.heard = now
		if c == nil { // the answer of an abandoned attempt
			w.zombies--
			continue
		}
		w.answered++
		f.st.runTime.add(time.Duration(now - c.dispatched))
		if r.PID != 0 && r.PID != w.pid {
			// An agent's answer names the process that ran the call,
			// which its announcements may not have yet, or no longer.
			c.slot, c.wid, c.pid = w.slot.index, w.id, r.PID
			c.w = nil
		}
		if r.Err != nil {
			err := r.Err
			if r.Crash {
				c.crashed()
			}
			if t, ok := err.(agentTimeout); ok {
				err = f.timedOutAfterLocked(c, w, time.Duration(t))
			} else if err == errExpired {
				// Only the host's clock says whether the call or its
				// attempt ran out of time.
				switch d, ok := c.ctx.Deadline(); {
				case ok && !time.Now().Before(d):
					f.settleLocked(c, nil, context.DeadlineExceeded)
					continue
				case f.attemptExpired(c, now):
					err = f.timedOutLocked(c, w)
				default:
					err = &WorkerExitError{Slot: w.slot.index, Agent: w.agent, PID: c.pidOn(w), Status: ExitStatus{Code: -1},
						Cause: errors.New("the agent dropped the call: its budget ran out there before it did by the host's clock")}
				}
			}
			f.attemptFailedLocked(c, err)
		} else if r.Failure != nil {
			var err error = remoteError(c.method, r.Failure, f.cfg.Serializer)
			if errors.Is(err, ErrCanceled) && f.attemptExpired(c, now) {
				// The worker's own deadline for the attempt, which starts
				// when the worker receives it, ended just before the
				// host's timer.
				err = f.timedOutLocked(c, w)
			}
			f.attemptFailedLocked(c, err)
		} else {
			c.rawResult = r.RawResult
			f.settleLocked(c, r.Result, nil)
		}
	}
	// Callers woken together call again together: the first of them is
	// not alone.
	w.burst = len(rs) > 1
	f.workerChangedLocked(w)
	if f.mem != nil {
		f.memAnsweredLocked(w, now)
	}
	f.wakeLater = nil
	fl := flushList{inline: true}
	f.dispatchLocked(&fl)
	f.mu.Unlock()
	for _, c := range *wake {
		c.markAnswered()
	}
	clear(*wake)
	*wake = (*wake)[:0]
	fl.flush()
}

// settleLocked answers c.
func (f *Farm) settleLocked(c *call, result []byte, err error) {
	if c.state == stDone {
		return
	}
	c.recyclable = err == nil && c.attempt == 1
	if c.stopCtx != nil && !c.stopCtx() {
		c.recyclable = false // cancel may still run
	}
	if c.timer != nil && !c.timer.Stop() {
		c.recyclable = false // onTimeout may still run
	}
	f.emitCallLocked(EventMessage, c, err)
	if c.pin != nil && c.pin.remote {
		delete(f.pinnedTo, c)
	}
	if w := c.w; w != nil {
		c.slot, c.wid, c.pid = w.slot.index, w.id, w.pid
		c.w = nil
	}
	waited := c.state == stWaiting
	c.state = stDone
	c.result, c.err = result, err
	if !waited {
		f.active--
		if f.waiting > 0 {
			f.admitLocked()
		}
	}
	if err == nil {
		f.st.succeeded++
	} else {
		f.st.failed++
	}
	if f.wakeLater != nil {
		*f.wakeLater = append(*f.wakeLater, c)
	} else {
		c.markAnswered()
	}
	if f.state == farmDraining && f.active == 0 {
		close(f.drained)
	}
}

// attemptFailedLocked applies the retry policy to a failed attempt: back to
// the front of the queue (after the backoff, if any) or answered with the
// error.
func (f *Farm) attemptFailedLocked(c *call, err error) {
	if w := c.w; w != nil {
		c.slot, c.wid, c.pid = w.slot.index, w.id, w.pid
		c.w = nil
	}
	switch {
	case c.ctx.Err() != nil:
		f.settleLocked(c, nil, c.ctx.Err())
		return
	case f.state == farmKilled:
		f.settleLocked(c, nil, ErrFarmKilled)
		return
	}
	if !retryable(err) {
		f.settleLocked(c, nil, err)
		return
	}
	if f.cfg.RetryIf != nil {
		// Asked without the farm's lock, which RetryIf may need (it may
		// call the farm), nor holding up dispatch while it runs. The call
		// waits among those in a backoff meanwhile, where a cancel or Kill
		// finds it.
		if c.timer != nil {
			c.timer.Stop()
			c.timer = nil
		}
		c.state = stQueued
		f.queued++
		f.backoff[c] = struct{}{}
		go f.askRetryIf(c, err)
		return
	}
	f.retryLocked(c, err)
}

// askRetryIf asks Config.RetryIf whether c, whose attempt failed with err,
// is retried, and settles or retries it unless a cancel or Kill settled it
// meanwhile.
func (f *Farm) askRetryIf(c *call, err error) {
	retry := f.retryIf(err)
	f.mu.Lock()
	if !f.leaveBackoffLocked(c) {
		f.mu.Unlock()
		return
	}
	// Back to the state of an attempt just answered, as without RetryIf:
	// the retry or the answer is the failed attempt's, named by its worker.
	c.state = stRunning
	switch {
	case c.ctx.Err() != nil:
		f.settleLocked(c, nil, c.ctx.Err())
	case f.state == farmKilled:
		f.settleLocked(c, nil, ErrFarmKilled)
	case !retry:
		f.settleLocked(c, nil, err)
	default:
		f.retryLocked(c, err)
	}
	var fl flushList
	f.dispatchLocked(&fl)
	f.mu.Unlock()
	fl.flush()
}

// retryIf returns what Config.RetryIf says of err; a RetryIf that panics
// says no, and the panic is logged.
func (f *Farm) retryIf(err error) (retry bool) {
	defer func() {
		if p := recover(); p != nil {
			f.log.Error("Config.RetryIf panicked; the failure is not retried", "panic", p, "error", err)
			retry = false
		}
	}()
	return f.cfg.RetryIf(err)
}

// retryLocked retries c, whose attempt failed with the retryable err,
// unless its retries are spent.
func (f *Farm) retryLocked(c *call, err error) {
	if n := c.maxRetries(); int(c.attempt) > n {
		if n > 0 {
			err = &MaxRetriesError{Method: c.method, Attempts: int(c.attempt), Last: err}
		}
		f.settleLocked(c, nil, err)
		return
	}
	f.st.retried++
	f.emitCallLocked(EventRetry, c, err)
	if c.timer != nil {
		c.timer.Stop()
	}
	if d := f.retryDelay(int(c.attempt)); d > 0 {
		c.state = stQueued
		f.queued++
		f.backoff[c] = struct{}{}
		c.timer = time.AfterFunc(d, func() { f.endBackoff(c) })
		return
	}
	f.enqueueLocked(c, true)
}

// retryDelay is the backoff before retry n (the attempt that failed was n).
func (f *Farm) retryDelay(n int) time.Duration {
	b := f.cfg.RetryBackoff
	if b <= 0 {
		return 0
	}
	for i := 1; i < n && b < 30*time.Second; i++ {
		b *= 2
	}
	return min(b, 30*time.Second)
}

// leaveBackoffLocked takes c out of the calls waiting out a backoff (or a
// RetryIf), and reports false when a cancel or Kill settled it meanwhile.
func (f *Farm) leaveBackoffLocked(c *call) bool {
	if _, ok := f.backoff[c]; !ok || c.state != stQueued {
		return false
	}
	delete(f.backoff, c)
	f.queued--
	return true
}

func (f *Farm) endBackoff(c *call) {
	f.mu.Lock()
	if !f.leaveBackoffLocked(c) {
		f.mu.Unlock()
		return
	}
	f.enqueueLocked(c, true)
	var fl flushList
	f.dispatchLocked(&fl)
	f.mu.Unlock()
	fl.flush()
}

// abandonLocked detaches a running attempt from its call: the worker is
// told to cancel it, its slot stays busy until the worker answers, and if
// that takes longer than KillTimeout the worker is recycled.
func (f *Farm) abandonLocked(c *call, fl *flushList) {
	w, wire := c.w, c.wire
	w.inflight[wire] = nil
	c.dest.Arm(0) // its late answer goes elsewhere: a retry may read the buffer
	w.zombies++
	if w.conn.EnqueueCancel(wire) {
		fl.add(w)
	}
	// A retiring worker whose last live call this was stops now.
	f.maybeStopLocked(w)
	time.AfterFunc(f.cfg.KillTimeout, func() { f.abandonedExpired(w, wire) })
}

// abandonedExpired recycles w if the attempt abandoned as wire is still
// running a KillTimeout after its cancel. A worker so found takes no
// more calls; it stops once its other calls are answered, or once it has
// answered nothing for another KillTimeout (a worker whose whole process
// is stuck, such as a Node.js worker's blocked event loop): its calls then
// fail as at its exit and are retried elsewhere.
func (f *Farm) abandonedExpired(w *worker, wire uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := w.inflight[wire]
	if !ok || c != nil || w.slot.remote || w.hungAt != 0 || (w.state != workerOnline && w.state != workerRetiring) {
		return
	}
	f.log.Warn("worker ignores cancellation; recycling it", "slot", w.slot.index, "pid", w.pid)
	f.st.hung++
	w.hungAt = f.clock()
	if w.state == workerOnline {
		f.retireLocked(w)
	}
	f.hungSilentLocked(w)
}

// hungSilentLocked stops w, recycled for ignoring a cancel, if it still
// has live calls and has answered none for KillTimeout since then;
// otherwise it looks again when that would be so.
func (f *Farm) hungSilentLocked(w *worker) {
	if w.state != workerRetiring || w.pending-w.zombies == 0 {
		return
	}
	quiet := time.Duration(f.clock() - max(w.heard, w.hungAt))
	if quiet < f.cfg.KillTimeout {
		time.AfterFunc(f.cfg.KillTimeout-quiet, func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			f.hungSilentLocked(w)
		})
		return
	}
	f.log.Warn("recycled worker answers nothing; stopping it", "slot", w.slot.index, "pid", w.pid, "calls", w.pending-w.zombies, "quiet", quiet.Round(time.Millisecond))
	f.stopWorkerLocked(w)
}

// attemptExpired reports whether c's current attempt has run for
// its timeout (Config.Timeout or its own) by the host's clock at now: only
// the host decides that an attempt timed out, whatever a worker answers.
func (f *Farm) attemptExpired(c *call, now int64) bool {
	t := c.timeout()
	return t > 0 && c.ctx.Err() == nil && time.Duration(now-c.dispatched) >= t
}

// timedOutLocked counts and reports the timeout of c's attempt on w.
func (f *Farm) timedOutLocked(c *call, w *worker) error {
	return f.timedOutAfterLocked(c, w, c.timeout())
}

// timedOutAfterLocked counts and reports the timeout of c's attempt on w
// after d.
func (f *Farm) timedOutAfterLocked(c *call, w *worker, d time.Duration) error {
	f.st.timedOut++
	err := &TimeoutError{Method: c.method, Timeout: d, Attempt: int(c.attempt), PID: c.pidOn(w)}
	f.emitCallLocked(EventTimeout, c, err)
	return err
}

// pidOn is the process id of the worker that runs c's attempt on w: w's,
// or the one an agent's answer named.
func (c *call) pidOn(w *worker) int {
	if c.w == nil && c.pid != 0 {
		return c.pid
	}
	return w.pid
}

// onTimeout ends an attempt that ran past Config.Timeout.
func (f *Farm) onTimeout(c *call, wire uint64) {
	f.mu.Lock()
	if c.state != stRunning || c.wire != wire {
		f.mu.Unlock()
		return
	}
	w := c.w
	var fl flushList
	f.abandonLocked(c, &fl)
	err := f.timedOutLocked(c, w)
	c.timer = nil
	f.attemptFailedLocked(c, err)
	f.dispatchLocked(&fl)
	f.mu.Unlock()
	fl.flush()
}
