package farm

import "time"

// Autoscaling: with Config.MinWorkers below Workers, the slots from
// MinWorkers on are elastic. Such a slot is parked (no worker, and none
// wanted) until calls wait in the queue; then dispatch unparks just enough
// of them for the calls that wait beyond the capacity already starting,
// MaxConcurrentCallsPerWorker calls a worker, the lowest slots first. A
// worker of an elastic slot that has had nothing in flight for
// Config.ScaleDownAfter is stopped and its slot parked again, if no call
// waits. Starting on waiting calls and stopping on idleness only, the farm
// neither starts workers for calls that one start serves nor stops and
// starts again within ScaleDownAfter.

// elastic reports whether the slot may be parked.
func (s *slot) elastic() bool { return !s.remote && s.index >= s.f.cfg.MinWorkers }

// scaleUpLocked unparks elastic slots for the calls that wait: as many as
// those calls need beyond what the slots already starting will take.
func (f *Farm) scaleUpLocked() {
	if f.state != farmRunning {
		return
	}
	perWorker := f.cfg.MaxConcurrentCallsPerWorker
	waiting := f.queue.len() + f.isolated.len() + f.keyed
	for _, s := range f.slots {
		if !s.remote && !s.parked && s.cur == nil {
			waiting -= perWorker // starting: it takes these (a free agent's slot starts nothing)
		}
	}
	for _, s := range f.slots {
		if waiting <= 0 {
			return
		}
		if s.parked {
			s.parked = false
			f.parkedSlots--
			waiting -= perWorker
			f.log.Debug("calls wait: starting a worker", "slot", s.index, "queued", f.queue.len())
			s.wakeup()
		}
	}
}

// scaleDownLaterLocked arms the stop of w, idle in an elastic slot, after
// ScaleDownAfter.
func (f *Farm) scaleDownLaterLocked(w *worker) {
	if f.cfg.MinWorkers >= len(f.slots) || !w.slot.elastic() {
		return
	}
	w.parkFrom = time.Now()
	if w.park == nil {
		w.park = time.AfterFunc(f.cfg.ScaleDownAfter, func() { f.onScaleDown(w) })
	} else {
		w.park.Reset(f.cfg.ScaleDownAfter)
	}
}

// onScaleDown parks the slot of w if w is still idle and no call waits.
func (f *Farm) onScaleDown(w *worker) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := w.slot
	if w.state != workerOnline || w.pending > 0 || f.state != farmRunning || s.cur != w {
		return
	}
	if left := f.cfg.ScaleDownAfter - time.Since(w.parkFrom); left > 0 {
		w.park.Reset(left) // it was busy in between
		return
	}
	if f.queue.len() > 0 || s.pinned.len() > 0 || s.keyed.len() > 0 || s.standby != nil || s.wantStandby {
		return // it will be busy again at once, or is being replaced
	}
	f.log.Debug("worker idle above MinWorkers; stopping it", "slot", s.index, "pid", w.pid)
	s.parked = true
	f.parkedSlots++
	s.gen++ // a start under way for the slot is discarded when it ends
	s.wantStandby = false
	f.st.scaledDown++
	f.dropWorkerLocked(w)
}
