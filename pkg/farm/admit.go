package farm

import "context"

// Calls made with CallOptions.Wait that find MaxConcurrentCalls calls
// queued or in flight wait in f.waiters, in arrival order, each holding
// nothing: not counted in f.active, in no queue. When a call is answered
// and frees room, the waiter at the front enters the queue in the same
// critical section, so that a newer call never takes the room first. A
// waiter whose context ends leaves at once; its entry stays in f.waiters,
// marked done, until admission reaches it or the last waiter leaves.

// waitLocked makes c, whose farm is at MaxConcurrentCalls, wait for room.
func (f *Farm) waitLocked(c *call) {
	f.nextCall++
	c.id = f.nextCall
	f.st.submitted++
	c.state = stWaiting
	f.waiters.pushBack(c)
	f.waiting++
	if c.ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(c.ctx, func() { f.cancel(c) })
	}
}

// leaveLocked takes the waiter c, whose context ended, out of the waiters.
// It held no room, so it frees none.
func (f *Farm) leaveLocked(c *call) {
	f.waiting--
	if f.waiting == 0 {
		f.waiters = deque[*call]{} // only left waiters remain: drop them
	}
}

// admitLocked moves waiters, first come first, into the queue while
// MaxConcurrentCalls leaves room. The caller dispatches afterwards.
func (f *Farm) admitLocked() {
	for f.waiting > 0 && f.active < f.cfg.MaxConcurrentCalls && f.state != farmKilled {
		c := f.waiters.popFront()
		if c.state != stWaiting {
			continue // left
		}
		f.waiting--
		f.active++
		f.enqueueLocked(c, false)
	}
	if f.waiting == 0 {
		f.waiters = deque[*call]{}
	}
}

// failWaitersLocked answers every waiter with err.
func (f *Farm) failWaitersLocked(err error) {
	for f.waiters.len() > 0 {
		if c := f.waiters.popFront(); c.state == stWaiting {
			f.settleLocked(c, nil, err)
		}
	}
	f.waiting = 0
}
