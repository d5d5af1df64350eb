package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// only.
type transport interface {
	// send queues a message of items, flush writes what was queued (the
	// gRPC stream sends at once). With own false (a helper; canHelp only)
	// neither blocks: flush returns errWouldBlock when bytes remain, which
	// the next send or flush writes first.
	send(items []wire.Item, own bool) error
	flush(own bool) error
	// canHelp reports whether send and flush can keep from blocking.
	canHelp() bool
	// recv appends the responses of the next message to rs.
	recv(rs []wire.Response) ([]wire.Response, error)
	// close ends the transport: recv and a blocked send return.
	close()
	name() string
}

type grpcTransport struct {
	stream workerpb.Worker_StreamClient
	cancel context.CancelFunc
}

func (t *grpcTransport) send(items []wire.Item, _ bool) error {
	b := &workerpb.CallBatch{}
	for i := range items {
		it := &items[i]
		if it.IsCancel {
			b.Cancels = append(b.Cancels, it.Cancel)
			continue
		}
		req := it.Req
		req.Args = req.OwnArgs() // Send may block: no lent slice past here
		b.Calls = append(b.Calls, req.PB())
	}
	return t.stream.Send(b)
}

func (t *grpcTransport) flush(bool) error { return nil }
func (t *grpcTransport) canHelp() bool    { return false }
func (t *grpcTransport) close()           { t.cancel() }
func (t *grpcTransport) name() string     { return "grpc" }

func (t *grpcTransport) recv(rs []wire.Response) ([]wire.Response, error) {
	b, err := t.stream.Recv()
	if err != nil {
		if status.Code(err) == codes.ResourceExhausted {
			err = fmt.Errorf("%w: %w", wire.ErrTooLarge, err)
		}
		return rs, err
	}
	return wire.AppendResponses(rs, b.Replies), nil
}

// socketTransport writes frames from v, the small bytes copied, arguments
// of at least wire.VecMin bytes from the caller's own slices (a vectored
// write): a helper writes what the socket takes without blocking (raw,
// through tryWrite), the sender goroutine the rest, blocking.
type socketTransport struct {
	rc   *wire.RawConn
	raw  syscall.RawConn
	fr   *wire.FrameReader
	v    wire.Vec // frames to write
	done int      // bytes of v written
	// arena, when not nil, is the connection's shared memory: big raw
	// arguments and results travel through it (wire.Arena).
	arena *wire.Arena

	tryWrite      func(fd uintptr) bool // made once, so that a write allocates nothing
	blockingWrite func(fd uintptr) bool // tryWrite that waits for room
	tryErr        error

	// The calls sent and answered, and when the last was sent (a
	// wire.Nanotime), for the receive loop's idle spin.
	sent     atomic.Int64
	lastSent atomic.Int64
	answered int64 // by the receive loop only
}

// newSocketTransport is the host's side of the socket data plane on c;
// its receive loop polls the socket for up to spin after the later of its
// wait's start and the last call sent, while at most one call is in
// flight (a caller that calls one at a time), before it sleeps.
func newSocketTransport(c *net.UnixConn, lim wire.Limits, spin time.Duration) (*socketTransport, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		c.Close()
		return nil, err
	}
	rc, err := wire.NewRawConn(c)
	if err != nil {
		c.Close()
		return nil, err
	}
	t := &socketTransport{rc: rc, raw: raw, fr: wire.NewFrameReader(rc, lim.Frame)}
	if spin > 0 {
		rc.SetSpin(wire.SpinAfter(spin, t.lastSent.Load, func() bool { return t.sent.Load()-t.answered <= 1 }))
	}
	t.v.Min = wire.VecMin
	t.tryWrite = func(fd uintptr) bool {
		var err error
		t.done, err = t.v.TryWrite(int(fd), t.done)
		if err == syscall.EAGAIN {
			err = nil
		}
		t.tryErr = err
		return true
	}
	t.blockingWrite = func(fd uintptr) bool {
		var err error
		t.done, err = t.v.TryWrite(int(fd), t.done)
		if err == syscall.EAGAIN {
			return false
		}
		t.tryErr = err
		return true
	}
	return t, nil
}

func (t *socketTransport) send(items []wire.Item, own bool) error {
	if t.arena != nil {
		t.arena.Place(items)
	}
	wire.AppendCallBatchVec(&t.v, items)
	calls := 0
	for i := range items {
		if !items[i].IsCancel {
			calls++
		}
	}
	t.sent.Add(int64(calls))
	t.lastSent.Store(wire.Nanotime())
	if t.v.Len()-t.done < wire.MaxBatchBytes {
		return nil
	}
	if err := t.write(own); err != wire.ErrWouldBlock {
		return err
	}
	return nil
}

func (t *socketTransport) flush(own bool) error { return t.write(own) }
func (t *socketTransport) canHelp() bool        { return true }
func (t *socketTransport) name() string         { return "socket" }

// close closes the socket, then drops the arena once no copy into or out
// of it runs.
func (t *socketTransport) close() {
	t.rc.Close()
	if t.arena != nil {
		t.arena.Close()
	}
}

// write writes v: all of it (own), or what the socket takes at once,
// returning errWouldBlock if some is left. Once it is written, v lets go
// of the callers' slices.
func (t *socketTransport) write(own bool) error {
	var err error
	if t.done < t.v.Len() && !own {
		if err = t.raw.Write(t.tryWrite); err == nil {
			err = t.tryErr
		}
		if err == nil && t.done < t.v.Len() {
			return wire.ErrWouldBlock
		}
	}
	if t.done < t.v.Len() && own {
		if t.v.Lent() {
			// Lent slices are written under their loan's lock, without
			// blocking in the write: the poller waits in between.
			if err = t.raw.Write(t.blockingWrite); err == nil {
				err = t.tryErr
			}
		} else {
			_, err = t.v.WriteTo(t.rc, t.done)
		}
	}
	t.v.Reset()
	t.done = 0
	return err
}

func (t *socketTransport) recv(rs []wire.Response) ([]wire.Response, error) {
	frame, err := t.fr.ReadOwned()
	n := len(rs)
	if err == nil {
		rs, err = wire.DecodeReplies(frame, rs)
	}
	t.answered += int64(len(rs) - n)
	if err == nil && t.arena != nil {
		t.arena.Settle(rs[n:])
	}
	if err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			err = fmt.Errorf("worker closed the data plane: %w", err)
		}
		return rs, err
	}
	return rs, nil
}
