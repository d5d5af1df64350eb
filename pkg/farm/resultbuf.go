package farm

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"

	"github.com/workestrator/workestrator/internal/wire"
)

// A synchronous call (RunMethod, Call) of a method whose last result was a
// big []byte gets a buffer of that size (rounded up to a page, as the
// arena's blocks are), made by the caller's goroutine before the call is
// sent:
// a result that comes back through shared memory is copied into it by the
// connection's receive loop, which then allocates nothing (an allocation
// there pays for the garbage collector inside the loop that answers every
// call of the worker). The caller gets a new slice either way; one much
// smaller than its buffer is copied into a slice of its own size.
//
// A buffer saves nothing when the result does not come through shared
// memory (the socket, a Node.js worker, an agent, a full arena), when it
// is bigger than the buffer, or much smaller. After maxResultWaste such
// buffers in a row a method gets none, but for one call in resultRetry,
// which starts them again if its buffer served. Buffers exist for at most
// as many calls at once as the local workers run (Workers ×
// MaxConcurrentCallsPerWorker); callers beyond that, and calls whose
// context is done, get none.
//
// Only a farm made while the process holds no heap reserve
// (heapreserve.go) makes buffers: with one, collections are rare, and the
// receive loop's copy into a slice it allocates, which needs no zeroing,
// costs less than zeroing a buffer beforehand (BenchmarkEchoWindow: 8 %
// faster without them). A nil *resultHints makes none.

// resultHints holds, per method, what its results taught (resultHint).
type resultHints struct {
	m       sync.Map     // method name → *resultHint
	methods atomic.Int32 // entries of m, at most maxResultMethods
	out     atomic.Int64 // buffers of calls not answered yet
	served  atomic.Int64 // buffers that took their call's result
	limit   int64        // the most buffers at once
}

// newResultHints allows limit buffers at once.
func newResultHints(limit int64) *resultHints { return &resultHints{limit: limit} }

// resultHint is the size of a method's last big raw result (0: none yet,
// or a small one), how many of its buffers in a row saved nothing, and
// how many calls went without one since its buffers last served.
type resultHint struct {
	size   atomic.Int64
	wasted atomic.Int32
	skips  atomic.Uint32
}

const (
	blockSize        = 4096 // the granule of the arena's blocks
	maxResultWaste   = 4
	resultRetry      = 64
	maxResultMethods = 256
)

// dest returns method's hint (nil if none yet) and a buffer for a call of
// it (nil when it gets none). A buffer given must be released once the
// call is answered or failed.
func (h *resultHints) dest(ctx context.Context, method string) (*resultHint, *wire.Dest) {
	if h == nil {
		return nil, nil
	}
	v, ok := h.m.Load(method)
	if !ok {
		return nil, nil
	}
	hint := v.(*resultHint)
	n := hint.size.Load()
	switch {
	case n < wire.ShmMin || ctx.Err() != nil:
		return hint, nil
	case hint.wasted.Load() >= maxResultWaste && hint.skips.Add(1)%resultRetry != 0:
		return hint, nil
	}
	if h.out.Add(1) > h.limit {
		h.out.Add(-1)
		return hint, nil
	}
	// The arena's block for the call is this size rounded up to a page
	// (bigger when its arguments are): a bigger result does not come
	// through a block of this size.
	return hint, wire.NewDest(make([]byte, 0, (n+blockSize-1)&^(blockSize-1)))
}

// release ends a buffer that dest gave, whatever became of its call.
func (h *resultHints) release() { h.out.Add(-1) }

// learn notes a call's result (raw: a []byte as it is) and whether the
// buffer d made for it, if any, served; it returns the result to give the
// caller: result, or a copy of its own size when it is much smaller than
// its buffer.
func (h *resultHints) learn(hint *resultHint, method string, d *wire.Dest, result []byte, raw bool) []byte {
	if h == nil {
		return result
	}
	if d != nil {
		held, room := d.Holds(result)
		switch {
		case held && len(result) >= room/4*3:
			h.served.Add(1)
			if hint.wasted.Load() != 0 {
				hint.wasted.Store(0)
				hint.skips.Store(0)
			}
		case held:
			result = bytes.Clone(result) // the buffer is too big to keep
			fallthrough
		default:
			if hint.wasted.Load() < maxResultWaste {
				hint.wasted.Add(1)
			}
		}
	}
	big := raw && len(result) >= wire.ShmMin
	if hint == nil {
		if !big {
			return result
		}
		if h.methods.Add(1) > maxResultMethods {
			h.methods.Add(-1)
			return result
		}
		v, loaded := h.m.LoadOrStore(method, new(resultHint))
		if loaded {
			h.methods.Add(-1)
		}
		hint = v.(*resultHint)
	}
	size := int64(0)
	if big {
		size = int64(len(result))
	}
	if hint.size.Load() != size {
		hint.size.Store(size)
	}
	return result
}
