package farm

import (
	"slices"
	"testing"
)

// drainOrder pops every call of q and returns their ids in pop order.
func drainOrder(q *prioQueue) []uint64 {
	var ids []uint64
	for q.next() != nil {
		ids = append(ids, q.pop().id)
	}
	return ids
}

func pushed(q *prioQueue, id uint64, prio int, front bool) *call {
	c := &call{id: id}
	if prio != 0 {
		c.opts = &callOpts{prio: prio}
	}
	q.push(c, front)
	return c
}

func TestPrioQueueOrder(t *testing.T) {
	var q prioQueue
	pushed(&q, 1, 0, false)
	pushed(&q, 2, -1, false)
	pushed(&q, 3, 5, false)
	pushed(&q, 4, 0, false)
	pushed(&q, 5, 5, false)
	pushed(&q, 6, 5, true) // a retry: the front of its level
	pushed(&q, 7, 2, false)
	want := []uint64{6, 3, 5, 7, 1, 4, 2}
	if got := drainOrder(&q); !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
	if q.len() != 0 || len(q.levels) != 0 {
		t.Fatalf("drained: len %d, levels %d", q.len(), len(q.levels))
	}
}

// Answered calls are dropped where they are found, and a level left with
// only answered calls goes away.
func TestPrioQueueDropsAnswered(t *testing.T) {
	var q prioQueue
	pushed(&q, 1, 0, false)
	pushed(&q, 2, 3, false).state = stDone
	pushed(&q, 3, 3, false).state = stDone
	pushed(&q, 4, 1, false)
	if got := drainOrder(&q); !slices.Equal(got, []uint64{4, 1}) {
		t.Fatalf("order %v", got)
	}
	if q.len() != 0 || len(q.levels) != 0 {
		t.Fatalf("drained: len %d, levels %d", q.len(), len(q.levels))
	}
}

// With two levels, the lower one has a call dispatched after exactly
// StarvationLimit calls of the higher one, then again after as many.
func TestPrioQueueStarvationTwoLevels(t *testing.T) {
	var q prioQueue
	for i := range 3 {
		pushed(&q, uint64(1000+i), 0, false)
	}
	for i := range 40 {
		pushed(&q, uint64(i), 1, false)
	}
	got := drainOrder(&q)
	var want []uint64
	for i := range 40 {
		want = append(want, uint64(i))
		if (i+1)%StarvationLimit == 0 {
			want = append(want, uint64(1000+(i+1)/StarvationLimit-1))
		}
	}
	want = append(want, 1002)
	if !slices.Equal(got, want) {
		t.Fatalf("order\n%v\nwant\n%v", got, want)
	}
}

// With L levels, each level waits at most StarvationLimit + L − 2
// dispatches of higher levels, however the levels are fed.
func TestPrioQueueStarvationBound(t *testing.T) {
	const levels = 6
	var q prioQueue
	id := uint64(0)
	// Every level always has calls: each dispatch is replaced by a new
	// call of the same level, and the highest levels get more.
	for p := range levels {
		for range 3 {
			id++
			pushed(&q, id, p, false)
		}
	}
	prioOf := map[uint64]int{}
	for _, l := range q.levels {
		for i := range l.q.len() {
			prioOf[l.q.at(i).id] = l.prio
		}
	}
	passed := make([]int, levels)
	for range 5000 {
		c := q.next()
		q.pop()
		p := prioOf[c.id]
		for lower := range p {
			passed[lower]++
			if passed[lower] > StarvationLimit+levels-2 {
				t.Fatalf("level %d passed over by %d dispatches of higher levels", lower, passed[lower])
			}
		}
		passed[p] = 0
		for range 1 + p%2 {
			id++
			pushed(&q, id, p, false)
			prioOf[id] = p
		}
	}
}

// Level 0 alone stays on the plain deque.
func TestPrioQueueDefaultLevel(t *testing.T) {
	var q prioQueue
	for i := range 100 {
		pushed(&q, uint64(i), 0, i%10 == 9)
		if len(q.levels) != 0 {
			t.Fatal("level 0 alone made levels")
		}
	}
	if got := drainOrder(&q); len(got) != 100 || got[0] != 99 {
		t.Fatalf("order %v", got)
	}
}
