package worker

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// heapFloor keeps the garbage collector's heap goal at floor bytes or
// more: after each collection it sets the GC percent that puts the next
// goal at the floor, or at what GOGC=100 gives when that is higher. It
// stops when someone else changes the GC percent.
type heapFloor struct {
	floor uint64
	mu    sync.Mutex
	set   int // the percent it set last
	s     []metrics.Sample
}

// gcPercentMax bounds the percent the floor sets.
const gcPercentMax = 1 << 20

// startHeapFloor starts the floor; a floor of 0 does nothing.
func startHeapFloor(floor int64) {
	if floor <= 0 {
		return
	}
	h := &heapFloor{floor: uint64(floor), s: []metrics.Sample{
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
		{Name: "/gc/gogc:percent"},
	}}
	// Before the first collection the goal is 4 MiB at 100 %.
	h.set = h.percent(0, 0)
	debug.SetGCPercent(h.set)
	h.arm()
}

// arm asks for a call of tune after the next collection.
func (h *heapFloor) arm() {
	runtime.SetFinalizer(&sentinel{}, func(*sentinel) { h.tune() })
}

// sentinel is garbage whose finalizer runs after each collection; it is
// big enough not to share a tiny allocation block.
type sentinel struct{ _ [32]byte }

// percent is the GC percent whose heap goal is the floor, for a live heap
// of live bytes and roots (stacks and globals) of roots bytes, and at
// least 100. The runtime's goal is the larger of live +
// (live+roots)×percent/100 and a minimum of 4 MiB×percent/100: the
// lower of the percents that put either at the floor puts the larger at
// it.
func (h *heapFloor) percent(live, roots uint64) int {
	p := h.floor * 100 / (4 << 20)
	if live+roots > 0 {
		if h.floor <= 2*live+roots {
			return 100
		}
		p = min(p, (h.floor-live)*100/(live+roots))
	}
	return int(min(max(p, 100), gcPercentMax))
}

func (h *heapFloor) tune() {
	h.mu.Lock()
	defer h.mu.Unlock()
	metrics.Read(h.s)
	if int(h.s[3].Value.Uint64()) != h.set {
		return // someone else set it: the floor ends
	}
	p := h.percent(h.s[0].Value.Uint64(), h.s[1].Value.Uint64()+h.s[2].Value.Uint64())
	if p != h.set {
		debug.SetGCPercent(p)
		h.set = p
	}
	h.arm()
}
