package farm

import (
	"sync"
	"sync/atomic"

	"github.com/workestrator/workestrator/internal/wire"
)

// A synchronous call (RunMethod, Call) of a method whose last result was a
// big []byte gets a buffer of that size made by the caller's goroutine
// before the call is sent: a result that comes back through shared memory
// is copied into it by the connection's receive loop, which then
// allocates nothing (an allocation there pays for the garbage collector
// inside the loop that answers every call of the worker). The caller gets
// a new slice either way.

// resultHints holds, per method, what its results taught (resultHint).
type resultHints struct{ m sync.Map } // method name → *resultHint

// resultHint is the size of a method's last big raw result (0: none yet,
// or a small one), and how many buffers made for it in a row went unused
// though the result fitted (it came on the socket, from a Node.js worker
// or an agent).
type resultHint struct {
	size   atomic.Int64
	misses atomic.Int32
}

// maxResultMisses is how many unused buffers in a row stop a method's: a
// method whose results never come through shared memory costs at most
// that many.
const maxResultMisses = 4

// dest returns a buffer for a call of method, nil when its results do not
// call for one.
func (h *resultHints) dest(method string) *wire.Dest {
	v, ok := h.m.Load(method)
	if !ok {
		return nil
	}
	hint := v.(*resultHint)
	n := hint.size.Load()
	if n < wire.ShmMin || hint.misses.Load() >= maxResultMisses {
		return nil
	}
	return wire.NewDest(make([]byte, 0, n+min(n/16, 64<<10))) // room for a slightly bigger one
}

// learn notes a call's raw result and whether the buffer d made for it,
// if any, took it.
func (h *resultHints) learn(method string, d *wire.Dest, result []byte, raw bool) {
	big := raw && len(result) >= wire.ShmMin
	v, ok := h.m.Load(method)
	if !ok {
		if !big {
			return
		}
		v, _ = h.m.LoadOrStore(method, new(resultHint))
	}
	hint := v.(*resultHint)
	if d != nil {
		switch held, fits := d.Holds(result); {
		case held:
			hint.misses.Store(0)
		case fits && hint.misses.Load() < maxResultMisses:
			hint.misses.Add(1) // it came some other way
		}
	}
	if big {
		hint.size.Store(int64(len(result)))
	} else if hint.size.Load() != 0 {
		hint.size.Store(0)
	}
}
