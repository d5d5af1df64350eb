package farm

// StarvationLimit bounds how long calls of a lower priority wait while
// higher ones keep coming (see CallOptions.Priority): a level that has
// calls waiting and was passed over by StarvationLimit dispatches of
// higher levels since its last dispatch (or since it got calls) has its
// front call dispatched next, before the higher levels (the highest such
// level first). With two levels, at least one call of the lower level is
// dispatched in every StarvationLimit+1 consecutive dispatches while it
// has calls waiting; with L levels holding calls, a level is passed over
// by at most StarvationLimit + L − 2 dispatches of higher levels (for
// L ≤ StarvationLimit + 1).
const StarvationLimit = 16

// level is the FIFO of one priority level of a prioQueue.
type level struct {
	prio int
	q    deque[*call]
	// passed counts the dispatches of higher levels since this level's
	// last dispatch, while it had calls.
	passed int
}

// prioQueue is a queue of calls by priority: the highest level first,
// FIFO within a level, with aging by StarvationLimit. While only level 0
// has calls it is the plain deque base, and its operations cost what the
// deque's do; otherwise they cost O(levels with calls). Not safe for
// concurrent use: the farm's lock guards it. Calls answered while queued
// stay in it until they reach the front of their level, where next drops
// them.
type prioQueue struct {
	base level // level 0
	// levels holds, while a level other than 0 has calls, every level
	// with calls and base, highest first; it is empty otherwise.
	levels []*level
	spare  []*level // emptied levels, for reuse
	n      int      // calls in every level, answered ones included
	sel    *level   // the level of the call next returned
}

func (q *prioQueue) len() int { return q.n }

// push adds c at the back of its level, or at the front (a retry).
func (q *prioQueue) push(c *call, front bool) {
	l := &q.base
	if len(q.levels) > 0 || c.prio() != 0 {
		l = q.levelOf(c.prio())
	}
	if front {
		l.q.pushFront(c)
	} else {
		l.q.pushBack(c)
	}
	q.n++
}

// levelOf returns the level prio, adding it to q.levels if needed.
func (q *prioQueue) levelOf(prio int) *level {
	if len(q.levels) == 0 {
		q.levels = append(q.levels, &q.base)
	}
	i := 0
	for ; i < len(q.levels) && q.levels[i].prio >= prio; i++ {
		if q.levels[i].prio == prio {
			return q.levels[i]
		}
	}
	var l *level
	if n := len(q.spare); n > 0 {
		l, q.spare = q.spare[n-1], q.spare[:n-1]
	} else {
		l = new(level)
	}
	l.prio, l.passed = prio, 0
	q.levels = append(q.levels, nil)
	copy(q.levels[i+1:], q.levels[i:])
	q.levels[i] = l
	return l
}

// next returns the call to dispatch next, or nil when none waits, and
// drops the answered calls it finds at the front of levels. pop removes
// it.
func (q *prioQueue) next() *call {
	if len(q.levels) == 0 {
		q.sel = &q.base
		return q.base.front(q)
	}
	var first *level
	for i := 0; i < len(q.levels); {
		l := q.levels[i]
		if l.front(q) == nil {
			l.passed = 0
			if l != &q.base {
				q.remove(i)
				continue
			}
			i++
			continue
		}
		if first == nil {
			first = l
		}
		if l.passed >= StarvationLimit {
			q.sel = l
			return l.q.front()
		}
		i++
	}
	q.collapse()
	if first == nil {
		return nil
	}
	q.sel = first
	return first.q.front()
}

// pop removes and returns the call next returned, and ages the levels
// below its level that have calls.
func (q *prioQueue) pop() *call {
	l := q.sel
	c := l.q.popFront()
	q.n--
	if len(q.levels) == 0 {
		return c
	}
	l.passed = 0
	at := -1
	for i, o := range q.levels {
		switch {
		case o == l:
			at = i
		case at >= 0 && o.q.len() > 0:
			o.passed++
		}
	}
	if l.q.len() == 0 && l != &q.base {
		q.remove(at)
		q.collapse()
	}
	return c
}

// remove takes the empty level at i out of q.levels, keeping it for reuse.
func (q *prioQueue) remove(i int) {
	l := q.levels[i]
	copy(q.levels[i:], q.levels[i+1:])
	q.levels[len(q.levels)-1] = nil
	q.levels = q.levels[:len(q.levels)-1]
	l.passed = 0
	q.spare = append(q.spare, l)
}

// collapse returns q to level 0 alone when no other level is left.
func (q *prioQueue) collapse() {
	if len(q.levels) == 1 {
		q.levels = q.levels[:0]
		q.base.passed = 0
	}
}

// front returns the first call of l that is not answered, dropping the
// answered ones before it, or nil.
func (l *level) front(q *prioQueue) *call {
	for l.q.len() > 0 {
		if c := l.q.front(); c.state != stDone {
			return c
		}
		l.q.popFront()
		q.n--
	}
	return nil
}
