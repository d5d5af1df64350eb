package worker

import (
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
)

// heapFloor keeps the garbage collector's heap goal at floor bytes or
// more: after each collection it sets the GC percent that puts the next
// goal at the floor, or at what GOGC=100 gives when that is higher. While
// the percent is not the one it set last (the worker's own code set
// another), it leaves the percent alone; it carries on once the percent
// is its own again.
type heapFloor struct {
	floor uint64
	set   int // the percent it set last
	s     []metrics.Sample
}

// gcPercentMax bounds the percent the floor sets.
const gcPercentMax = 1 << 20

// Samples read after each collection.
const (
	sampleLive = iota
	sampleStacks
	sampleGlobals
	samplePercent
	sampleLimit
)

// startHeapFloor starts the floor, unless floor is 0 or the process's
// collector is not at its defaults (GOGC=100, no memory limit): its own
// code set them before Serve.
func startHeapFloor(floor int64) {
	if floor <= 0 {
		return
	}
	h := &heapFloor{floor: uint64(floor), s: []metrics.Sample{
		sampleLive:    {Name: "/gc/heap/live:bytes"},
		sampleStacks:  {Name: "/gc/scan/stack:bytes"},
		sampleGlobals: {Name: "/gc/scan/globals:bytes"},
		samplePercent: {Name: "/gc/gogc:percent"},
		sampleLimit:   {Name: "/gc/gomemlimit:bytes"},
	}}
	metrics.Read(h.s)
	if h.s[samplePercent].Value.Uint64() != 100 || h.s[sampleLimit].Value.Uint64() != math.MaxInt64 {
		return
	}
	// Before the first collection the live heap is unknown: the minimum
	// goal sets the first one.
	h.set = h.percent(0, 0)
	if prev := debug.SetGCPercent(h.set); prev != 100 {
		debug.SetGCPercent(prev)
		return
	}
	h.arm()
}

// arm asks for a call of tune once a collection has found a new sentinel
// unreachable: the collection after this one, or the next (a sentinel
// made while a collection marks survives it). Cleanups run on goroutines
// of their own, apart from the finalizers of the worker's code.
func (h *heapFloor) arm() {
	runtime.AddCleanup(new(sentinel), func(h *heapFloor) { h.tune() }, h)
}

// sentinel is garbage that tells of a collection; it is big enough not to
// share a tiny allocation block.
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

// tune sets the percent for the live heap the last collection found.
func (h *heapFloor) tune() {
	defer h.arm()
	metrics.Read(h.s)
	if int(h.s[samplePercent].Value.Uint64()) != h.set || h.s[sampleLimit].Value.Uint64() != math.MaxInt64 {
		return // the worker's code set its own
	}
	p := h.percent(h.s[sampleLive].Value.Uint64(), h.s[sampleStacks].Value.Uint64()+h.s[sampleGlobals].Value.Uint64())
	if p == h.set {
		return
	}
	if prev := debug.SetGCPercent(p); prev != h.set {
		debug.SetGCPercent(prev) // set by the worker's code just now
		return
	}
	h.set = p
}
