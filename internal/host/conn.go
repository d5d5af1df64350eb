package host

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// Info is what a worker says of itself in Describe.
type Info struct {
	// ProtocolVersion is the protocol the worker speaks.
	ProtocolVersion int
	// Methods maps each method name to its Go signature.
	Methods map[string]string
	// Serializers lists the serializers the worker knows.
	Serializers []string
	// PID is the worker's process id as it sees it.
	PID int
	// SDK identifies the worker's SDK.
	SDK string
	// Features lists the optional protocol features the worker implements,
	// such as wire.FeatureRawBytes.
	Features []string

	dataPlane      string // the socket data plane's address, if offered
	dataPlaneToken []byte
}

// ErrConnClosed is the error of a [Conn] whose data plane was closed by its owner.
var ErrConnClosed = errors.New("worker connection closed")

// Conn is the host's connection to one worker: a data plane that carries
// batches of requests and cancels one way and batches of responses back,
// over the worker's own socket when it offers one, else over the gRPC
// stream. It starts no goroutine per call: the goroutine that finds the
// connection idle sends what is pending. Safe for concurrent use.
type Conn struct {
	client  workerpb.WorkerClient
	lim     wire.Limits
	tr      transport
	help    bool // a caller's Flush may write (tr.canHelp)
	out     *wire.Batcher[wire.Item]
	done    chan struct{}
	err     error // set before done is closed
	closing atomic.Bool
	sender  sync.WaitGroup

	causeMu sync.Mutex
	cause   error // why the host ended the data plane itself, if it did
}

// openStream opens the gRPC data-plane stream.
func openStream(client workerpb.WorkerClient) (transport, error) {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := client.Stream(ctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("open worker stream: %w", err)
	}
	return &grpcTransport{stream: stream, cancel: cancel}, nil
}

// newConn starts the receive loop of a data plane, which hands each batch
// of responses to onResponses (the slice is reused after it returns).
// Responses over the limits lim fail or are cut (checkResponse).
func newConn(client workerpb.WorkerClient, tr transport, onResponses func([]wire.Response), lim wire.Limits) *Conn {
	c := &Conn{client: client, tr: tr, lim: lim, help: tr.canHelp(), done: make(chan struct{})}
	c.out = wire.NewBatcher(c.sendBatch)
	go c.receive(onResponses)
	c.sender.Go(func() { c.out.Loop(c.done) })
	return c
}

func (c *Conn) receive(onResponses func([]wire.Response)) {
	var rs []wire.Response
	for {
		var err error
		rs, err = c.tr.recv(rs[:0])
		if err != nil {
			c.causeMu.Lock()
			cause := c.cause
			c.causeMu.Unlock()
			switch {
			case cause != nil:
				err = cause
			case c.closing.Load() || errors.Is(err, context.Canceled):
				err = ErrConnClosed
			}
			c.err = err
			// Unblock a sender still writing to a broken connection.
			c.tr.close()
			close(c.done)
			return
		}
		for i := range rs {
			if r := &rs[i]; len(r.Result) > c.lim.Payload || r.Failure != nil || r.ShmResult != 0 {
				checkResponse(r, &c.lim)
			}
		}
		onResponses(rs)
		clear(rs)
	}
}

// sendBatch sends items in messages of at most maxBatchBytes (a larger
// single call goes alone), then flushes; own says whether the connection's
// sender goroutine sends (it may block), or a caller that helps (it may
// not: errWouldBlock hands the rest to the sender goroutine). A call too large for any frame
// the worker accepts ends the connection with an error that matches
// [wire.ErrTooLarge] (the farm refuses arguments over MaxMessageSize before
// this: only a huge method name or count of arguments gets here).
func (c *Conn) sendBatch(items []wire.Item, own bool) error {
	for len(items) > 0 {
		size, n := 0, 0
		for ; n < len(items); n++ {
			s := wire.ItemCost(&items[n])
			if n > 0 && size+s > wire.MaxBatchBytes {
				break
			}
			if s > c.lim.Frame {
				return c.abort(fmt.Errorf("%w: call %d of %d bytes exceeds the frame limit of %d bytes",
					wire.ErrTooLarge, items[n].Req.ID, s, c.lim.Frame))
			}
			size += s
		}
		if err := c.tr.send(items[:n], own); err != nil {
			return err
		}
		items = items[n:]
	}
	return c.tr.flush(own)
}

// abort ends the data plane with err as its cause, and returns err.
func (c *Conn) abort(err error) error {
	c.causeMu.Lock()
	if c.cause == nil {
		c.cause = err
	}
	c.causeMu.Unlock()
	c.tr.close()
	return err
}

// Enqueue adds r to the next message and reports whether the caller must
// call [Conn.Flush] (once, after enqueueing all it has, outside its locks).
func (c *Conn) Enqueue(r wire.Request) bool {
	it := wire.Item{Req: r}
	it.Req.Method = wire.ValidUTF8(r.Method) // an invalid name is then unknown
	it.Req.Serializer = wire.ValidUTF8(r.Serializer)
	it.Req.Hold()
	return c.out.Add(it)
}

// EnqueueCancel asks the worker to cancel the context of call id, and
// reports whether the caller must call [Conn.Flush].
func (c *Conn) EnqueueCancel(id uint64) bool {
	return c.out.Add(wire.Item{Cancel: id, IsCancel: true})
}

// Flush sends what is pending from the calling goroutine, unless another
// goroutine is sending. Use it for what must leave at once: a lone call,
// or all the calls a goroutine has just enqueued.
//
// Flush never blocks on the worker: it writes what the socket takes at
// once and hands the rest to the connection's sender goroutine, which
// waits for the worker to read. On the gRPC stream, whose flow control
// could block it, it wakes that goroutine at once. So a goroutine may flush any
// worker's connection (a receive loop, a caller with a deadline) without
// waiting for a worker that stopped reading. Such a worker blocks only its
// own sender goroutine, until the worker reads again or [Conn.Close].
func (c *Conn) Flush() {
	if c.help {
		c.out.Flush()
	} else {
		c.out.WakeNow()
	}
}

// Wake hands what is pending to the connection's sending goroutine and
// returns at once. Use it when more calls are coming: they will share the
// next message.
func (c *Conn) Wake() { c.out.Wake() }

// SharedMemory is the size in bytes of the connection's shared-memory
// arena, 0 when it has none (the gRPC stream, a worker that declined it).
func (c *Conn) SharedMemory() int64 {
	if t, ok := c.tr.(*socketTransport); ok && t.arena != nil {
		return t.arena.Size()
	}
	return 0
}

// Done is closed when the data plane ends: the worker died, the connection
// broke, or Close was called.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err says why the data plane ended; nil while it is open.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close ends the data plane and waits for its goroutines to stop.
func (c *Conn) Close() {
	c.closing.Store(true)
	c.tr.close()
	<-c.done
	c.sender.Wait()
}

// Describe asks the worker for its methods, serializers and version.
func (c *Conn) Describe(ctx context.Context) (*Info, error) {
	return describe(ctx, c.client)
}

func describe(ctx context.Context, client workerpb.WorkerClient) (*Info, error) {
	r, err := client.Describe(ctx, &workerpb.DescribeRequest{})
	if err != nil {
		return nil, err
	}
	info := &Info{
		ProtocolVersion: int(r.ProtocolVersion),
		Methods:         make(map[string]string, len(r.Methods)),
		Serializers:     r.Serializers,
		PID:             int(r.Pid),
		SDK:             r.Sdk,
		Features:        r.Features,
		dataPlane:       r.DataPlane,
		dataPlaneToken:  r.DataPlaneToken,
	}
	for _, m := range r.Methods {
		info.Methods[m.Name] = m.Signature
	}
	return info, nil
}

// Invoke runs one call through the unary RPC, outside the data plane.
func (c *Conn) Invoke(ctx context.Context, r *wire.Request) (wire.Response, error) {
	rep, err := c.client.Invoke(ctx, r.PB())
	if err != nil {
		return wire.Response{}, err
	}
	resp := wire.Response{ID: rep.Id, Result: rep.Result, Failure: rep.Error, RawResult: rep.RawResult, ShmResult: rep.ShmResultLen}
	checkResponse(&resp, &c.lim)
	return resp, nil
}
