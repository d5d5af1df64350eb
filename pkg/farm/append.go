package farm

import (
	"context"

	"github.com/workestrator/workestrator/internal/wire"
)

// AppendCall runs method like [Call] of a []byte and appends the result to
// dst, returning the extended slice as append does. A result that comes
// back through a Go worker's shared memory (Config.SharedMemory) and fits
// in dst's spare capacity is copied from there straight into it: a caller
// that passes the same buffer each time
//
//	buf, err = farm.AppendCall(ctx, f, buf[:0], "render", page)
//
// allocates nothing for such results, and its process collects far less
// garbage than with a new slice per call (see the README, "The wire").
// That takes a Go worker with shared memory, a result of at least 32 KiB,
// and a first call of the method on that worker (the arena learns the size
// of its results); other results (smaller, over the socket, from a Node.js
// worker or a remote agent) are appended as Call returns them, or returned
// as they are when dst is empty and too small. f is a *Farm, or a *Caller
// for calls with options; any other Invoker gets Call's result appended.
//
// dst is written only while AppendCall runs, and only by the answer of the
// call's last attempt: dst's spare capacity may be an argument of the call
// (AppendCall(ctx, f, buf[:0], "transform", buf)). On an error it returns
// dst unchanged, though its spare capacity may have been written.
func AppendCall(ctx context.Context, f Invoker, dst []byte, method string, args ...any) ([]byte, error) {
	var dest *wire.Dest
	if cap(dst)-len(dst) >= wire.ShmMin {
		dest = wire.NewDest(dst) // smaller results do not come through shared memory
	}
	var r Result
	var err error
	switch inv := f.(type) {
	case *Farm:
		r, err = inv.runMethod(ctx, method, nil, args, dest)
	case *Caller:
		if inv.err != nil {
			return dst, inv.err
		}
		r, err = inv.f.runMethod(ctx, method, &inv.o, args, dest)
	default:
		r, err = f.RunMethod(ctx, method, args...)
	}
	if err != nil {
		return dst, err
	}
	var b []byte
	if err := r.Decode(&b); err != nil {
		return dst, err
	}
	switch n := len(dst); {
	case wire.InPlace(dst, b):
		return dst[:n+len(b)], nil // filled in place
	case n == 0 && cap(dst) < len(b):
		return b, nil // a slice of its own already: no second copy
	}
	return append(dst, b...), nil
}
