package wire

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// Shared memory on the socket data plane (feature "shm"): the host makes
// an arena per worker connection, a sealed memfd that both map shared,
// and gives the worker its descriptor with the token. Big raw byte-slice
// arguments are copied into a block of it that the host allocates for the
// call, instead of being written on the socket; the worker copies them out
// before the function runs and may write a big raw result into the same
// block. See workerpb.Call.shm_offset.

const (
	// FeatureSharedMemory is the Describe feature of a worker that takes
	// an arena on its socket data plane.
	FeatureSharedMemory = "shm"
	// EnvSharedMemory is the size in bytes of the arena a host may send
	// with the token; a worker accepts a memfd of that size only.
	EnvSharedMemory = "WORKESTRATOR_SHARED_MEMORY"
	// ShmMin is the least size of a call's raw arguments (their total) or
	// of a raw result that goes through the arena; smaller ones go on the
	// socket. Measured (BenchmarkEcho, one call at a time on 2 cores):
	// the arena is about as fast as the socket at 16 KiB, 1.4 times as
	// fast at 32 KiB and 64 KiB, 2 times at 256 KiB.
	ShmMin = 32 << 10
	// ShmMapped and ShmDeclined are the byte a worker answers to the
	// token when a memfd came with it: it mapped the arena, or it serves
	// the connection without one.
	ShmMapped   = 1
	ShmDeclined = 0
	// shmArgMin is the least size of a raw argument copied into its
	// call's block; smaller ones stay in the frame.
	shmArgMin = 4 << 10
	// shmAlign is the alignment and granule of blocks: a page.
	shmAlign = 4096
	// maxShmMethods bounds the methods whose result sizes an arena learns.
	maxShmMethods = 256
)

// Arena is the host's side of a connection's shared memory: the mapping,
// the allocator of its blocks (first fit over a sorted list of free
// extents), the blocks of the calls in flight, and per method the size of
// its last big raw result, so that a call whose arguments are small gets
// room for a big result too. Only the host allocates. A block is freed when
// its call's reply arrives, or with the whole arena when the connection
// ends ([Arena.Close]): a call abandoned by its caller keeps its block until
// the worker answers. Safe for concurrent use: the sender places calls
// while the receive loop settles replies.
type Arena struct {
	live    sync.RWMutex // shared while mem is read or written; Close takes it
	mem     []byte       // nil once closed
	release func([]byte) // unmaps mem

	methods map[string]*shmMethod // fixed at start: methods that may return raw bytes
	payload uint64                // the largest result (wire.Limits.Payload)
	size    int64                 // len(mem) at start
	tracked atomic.Int64          // len(calls), read without mu

	mu    sync.Mutex
	free  []extent           // sorted by offset, coalesced
	calls map[uint64]shmCall // calls with a block, or whose result size is learnt
}

type extent struct{ off, size uint64 }

// shmCall is a call the arena knows of: its block (size 0 for none) and
// its method's record, when its results are learnt.
type shmCall struct {
	off, size uint64
	m         *shmMethod
	dst       *Dest // the caller's buffer for the result, if any
}

// shmMethod holds the size of a method's last big raw result, 0 if its
// last result was small (or not raw).
type shmMethod struct{ last atomic.Uint64 }

// NewArena manages mem, which release unmaps on Close; methods maps the
// worker's method names to their Go signatures (Describe), from which it
// learns the result sizes of those that return a []byte; payload is the
// largest result the host takes (wire.Limits.Payload): a bigger one
// fails with TOO_LARGE, is not copied out and is not learnt.
func NewArena(mem []byte, release func([]byte), methods map[string]string, payload int) *Arena {
	a := &Arena{
		mem:     mem,
		release: release,
		payload: uint64(max(payload, 0)),
		size:    int64(len(mem)),
		methods: map[string]*shmMethod{},
		calls:   map[uint64]shmCall{},
	}
	if n := uint64(len(mem)) &^ (shmAlign - 1); n > 0 {
		a.free = []extent{{0, n}}
	}
	for name, sig := range methods {
		if len(a.methods) < maxShmMethods && ReturnsBytes(sig) {
			a.methods[name] = &shmMethod{}
		}
	}
	return a
}

// ReturnsBytes reports whether a Go function signature, as reflect prints
// it ("func(context.Context, []uint8) ([]uint8, error)"), returns a []byte.
func ReturnsBytes(sig string) bool {
	rest, ok := strings.CutPrefix(sig, "func(")
	if !ok {
		return false
	}
	depth := 1
	for i := 0; i < len(rest); i++ {
		switch rest[i] {
		case '(':
			depth++
		case ')':
			depth--
		}
		if depth == 0 {
			out := strings.TrimSpace(rest[i+1:])
			return out == "[]uint8" || strings.HasPrefix(out, "([]uint8,")
		}
	}
	return false
}

// Size is the arena's size in bytes, closed or not.
func (a *Arena) Size() int64 { return a.size }

// Place gives each call of items that needs one a block, and copies its
// big raw arguments into it (a lent one under its loan's lock): the frame
// then carries them empty. A call that does not fit in the free space is
// left as it is, for the socket. Called by the connection's one sender at a
// time, just before it encodes items.
func (a *Arena) Place(items []Item) {
	a.live.RLock()
	defer a.live.RUnlock()
	if a.mem == nil {
		return
	}
	for i := range items {
		if it := &items[i]; !it.IsCancel {
			a.place(&it.Req)
		}
	}
}

func (a *Arena) place(r *Request) {
	var mask, total uint64
	if r.RawArgs != 0 {
		for i, arg := range r.Args {
			if i < 64 && r.RawArgs&(1<<i) != 0 && len(arg) >= shmArgMin {
				mask |= 1 << i
				total += uint64(len(arg))
			}
		}
		if total < ShmMin {
			mask, total = 0, 0
		}
	}
	m := a.methods[r.Method]
	want := total
	if m != nil {
		want = max(want, m.last.Load())
	}
	if want < ShmMin {
		if m != nil { // learn its result's size
			a.mu.Lock()
			a.track(r.ID, shmCall{m: m})
			a.mu.Unlock()
		}
		return
	}
	size := alignUp(want)
	a.mu.Lock()
	off, ok := a.alloc(size)
	if !ok && total > 0 && alignUp(total) < size {
		// No room for the result: the arguments alone, then.
		size = alignUp(total)
		off, ok = a.alloc(size)
	}
	a.mu.Unlock()
	if ok {
		r.ShmOffset, r.ShmSize = off, size
		if mask != 0 {
			a.copyArgs(r, mask, off, size)
			r.ShmArgs = mask
		}
	}
	// Tracked only now that its arguments are in: a reply to it before
	// this (a worker that guessed its id) frees nothing, so that no other
	// call gets the block while they are copied in.
	a.mu.Lock()
	switch {
	case ok:
		a.track(r.ID, shmCall{off: off, size: size, m: m, dst: r.Dest})
	case m != nil:
		a.track(r.ID, shmCall{m: m})
	}
	a.mu.Unlock()
}

// copyArgs copies r's arguments of mask into its block [off, off+size),
// a lent one under its loan's lock.
func (a *Arena) copyArgs(r *Request, mask, off, size uint64) {
	src := r.Args
	if l := r.Loan; l != nil {
		l.mu.Lock()
		defer l.mu.Unlock()
		src = l.args
	}
	at := off
	for i, arg := range src {
		if i < 64 && mask&(1<<i) != 0 {
			at += uint64(copy(a.mem[at:off+size], arg))
		}
	}
}

// track records call id; a.mu is held.
func (a *Arena) track(id uint64, c shmCall) {
	// The id of a call still in flight again would leave the old block
	// allocated until the arena ends: ids are unique among the calls in
	// flight, so that never happens.
	a.calls[id] = c
	a.tracked.Store(int64(len(a.calls)))
}

// Settle copies each result that a reply of rs says is in its call's
// block out into a []byte of its own, checks that no reply claims more
// than its call's block, frees the blocks of the calls answered, and
// learns the sizes of their raw results. A reply that claims shared memory
// it was not given fails with BAD_RESULT; nothing else is affected. Once
// the arena is closed, a reply that claims shared memory gets Err
// [ErrArenaClosed] and Crash, as the call of a dead worker.
// Called by the receive loop.
func (a *Arena) Settle(rs []Response) {
	a.live.RLock()
	defer a.live.RUnlock()
	for i := range rs {
		r := &rs[i]
		if r.ShmResult == 0 && a.tracked.Load() == 0 {
			continue
		}
		a.mu.Lock()
		c, ok := a.calls[r.ID]
		if ok {
			delete(a.calls, r.ID)
			a.tracked.Store(int64(len(a.calls)))
		}
		a.mu.Unlock()
		if n := r.ShmResult; n != 0 {
			r.ShmResult = 0
			if a.mem == nil {
				// Closed with the connection: the result is lost with
				// it, whatever the worker did. The call failed as on a
				// dead worker, not as a lie.
				r.Result, r.RawResult, r.Failure = nil, false, nil
				r.Err, r.Crash = ErrArenaClosed, true
				ok = false // nothing to learn or free
			} else if !ok || n > c.size {
				r.Result, r.RawResult = nil, false
				r.Failure = ShmLie(r.ID, n, c.size)
			} else if n > a.payload {
				r.Result, r.RawResult = nil, false
				r.Failure = TooLarge(int(min(n, 1<<62)), int(a.payload))
			} else {
				// Into the caller's buffer when it lent one for this
				// attempt's raw result, else into a slice of its own.
				src, filled := a.mem[c.off:c.off+n], false
				if r.RawResult && r.Failure == nil {
					r.Result, filled = c.dst.fill(r.ID, src)
				}
				if !filled {
					r.Result = clone(src)
				}
			}
		}
		if !ok {
			continue
		}
		if c.m != nil && r.Failure == nil {
			if n := uint64(len(r.Result)); r.RawResult && n >= ShmMin && n <= a.payload {
				c.m.last.Store(n)
			} else {
				c.m.last.Store(0)
			}
		}
		if c.size > 0 {
			a.mu.Lock()
			a.freeExtent(c.off, c.size)
			a.mu.Unlock()
		}
	}
}

// ErrArenaClosed is the failure of a call whose result was in shared
// memory when the connection (and with it the arena) ended: the call
// failed with its worker's connection, and goes through the retry policy.
var ErrArenaClosed = errors.New("the worker's connection ended with the call's result in its shared memory")

// ShmLie is the failure of call id whose reply claims a result of n bytes
// in shared memory when its block holds size bytes (0: it has none).
func ShmLie(id, n, size uint64) *workerpb.Error {
	msg := fmt.Sprintf("the worker's reply to call %d claims a result of %d bytes in shared memory, beyond the call's block of %d bytes", id, n, size)
	if size == 0 {
		msg = fmt.Sprintf("the worker's reply to call %d claims a result of %d bytes in shared memory, but the call has no block there", id, n)
	}
	return &workerpb.Error{Code: workerpb.Error_BAD_RESULT, Type: "result", Message: msg}
}

// Close unmaps the arena once no copy into or out of it runs: the
// connection has ended. Later Place and Settle calls do nothing but fail
// the replies that claim shared memory. Idempotent.
func (a *Arena) Close() {
	a.live.Lock()
	defer a.live.Unlock()
	if a.mem != nil {
		a.release(a.mem)
		a.mem = nil
	}
}

// InUse is the bytes allocated to calls in flight.
func (a *Arena) InUse() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	var n uint64
	for _, c := range a.calls {
		n += c.size
	}
	return n
}

// clone copies b into a new slice of len(b) (its capacity rounded up to
// the allocator's size class at most) without zeroing it first, as
// make+copy would.
func clone(b []byte) []byte { return append([]byte(nil), b...) }

func alignUp(n uint64) uint64 { return (n + shmAlign - 1) &^ (shmAlign - 1) }

// alloc takes size bytes from the first free extent that holds them.
func (a *Arena) alloc(size uint64) (uint64, bool) {
	for i := range a.free {
		e := &a.free[i]
		if e.size < size {
			continue
		}
		off := e.off
		e.off += size
		e.size -= size
		if e.size == 0 {
			a.free = append(a.free[:i], a.free[i+1:]...)
		}
		return off, true
	}
	return 0, false
}

// freeExtent gives [off, off+size) back, merged with its neighbours.
func (a *Arena) freeExtent(off, size uint64) {
	i := 0
	for i < len(a.free) && a.free[i].off < off {
		i++
	}
	if i > 0 && a.free[i-1].off+a.free[i-1].size == off {
		a.free[i-1].size += size
		if i < len(a.free) && off+size == a.free[i].off {
			a.free[i-1].size += a.free[i].size
			a.free = append(a.free[:i], a.free[i+1:]...)
		}
		return
	}
	if i < len(a.free) && off+size == a.free[i].off {
		a.free[i].off = off
		a.free[i].size += size
		return
	}
	a.free = append(a.free, extent{})
	copy(a.free[i+1:], a.free[i:])
	a.free[i] = extent{off, size}
}

// ShmArgs returns c's arguments with those in its block copied out of
// arena into slices of their own (exact size): a function may keep them.
// It checks that the block lies in the arena and the arguments in the
// block; a call that breaks the rules gets a BAD_ARGUMENTS error, and one
// whose arguments total more than payload bytes a TOO_LARGE error, before
// anything is allocated.
func ShmArgs(arena []byte, c *workerpb.Call, payload int) ([][]byte, *workerpb.Error) {
	bad := func(format string, a ...any) *workerpb.Error {
		return &workerpb.Error{Code: workerpb.Error_BAD_ARGUMENTS, Type: "arguments",
			Message: "shared memory: " + fmt.Sprintf(format, a...)}
	}
	if c.ShmSize == 0 && c.ShmArgs == 0 {
		return c.Args, nil
	}
	size := uint64(len(arena))
	switch {
	case arena == nil:
		return nil, bad("call %d has a block, but the connection has no arena", c.Id)
	case c.ShmOffset > size || c.ShmSize > size-c.ShmOffset:
		return nil, bad("call %d's block [%d, +%d) is outside the arena of %d bytes", c.Id, c.ShmOffset, c.ShmSize, size)
	case c.ShmArgs&^c.RawArgs != 0:
		return nil, bad("call %d has arguments in its block that are not raw bytes", c.Id)
	case len(c.Args) < 64 && c.ShmArgs>>len(c.Args) != 0:
		return nil, bad("call %d has arguments in its block beyond its %d arguments", c.Id, len(c.Args))
	}
	total := uint64(0)
	for _, a := range c.Args {
		total += uint64(len(a))
	}
	for _, n := range c.ShmArgLens {
		if n > uint64(payload) || total+n > uint64(payload) {
			return nil, &workerpb.Error{Code: workerpb.Error_TOO_LARGE, Type: "arguments",
				Message: fmt.Sprintf("call %d: arguments in shared memory exceed the limit of %d bytes", c.Id, payload)}
		}
		total += n
	}
	block := arena[c.ShmOffset : c.ShmOffset+c.ShmSize]
	k := 0
	at := uint64(0)
	for i := range c.Args {
		if i >= 64 || c.ShmArgs&(1<<i) == 0 {
			continue
		}
		if k >= len(c.ShmArgLens) || len(c.Args[i]) != 0 {
			return nil, bad("call %d: argument %d's length is missing, or it is in the frame too", c.Id, i+1)
		}
		n := c.ShmArgLens[k]
		k++
		if n > uint64(len(block))-at {
			return nil, bad("call %d: argument %d of %d bytes overruns its block", c.Id, i+1, n)
		}
		c.Args[i] = clone(block[at : at+n])
		at += n
	}
	if k != len(c.ShmArgLens) {
		return nil, bad("call %d has %d argument lengths for %d arguments in its block", c.Id, len(c.ShmArgLens), k)
	}
	return c.Args, nil
}

// PutShmResult copies a raw result into c's block when it is big enough and
// fits, and reports whether it did.
func PutShmResult(arena []byte, c *workerpb.Call, result []byte) bool {
	n := uint64(len(result))
	size := uint64(len(arena))
	if n < ShmMin || n > c.ShmSize || c.ShmOffset > size || c.ShmSize > size-c.ShmOffset {
		return false
	}
	copy(arena[c.ShmOffset:c.ShmOffset+n], result)
	return true
}
