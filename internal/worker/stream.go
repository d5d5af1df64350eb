package worker

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// A session keeps as many call-running goroutines waiting for the next call
// as the most calls it has had in flight at once, at least minIdleRunners
// and at most maxIdleRunners; more exit when their call ends. A load that
// comes back thus finds its goroutines, whose stacks have already grown: a
// new goroutine grows its stack (copying it) on its first call.
const (
	minIdleRunners = 64
	maxIdleRunners = 4096
)

// Stream serves the farm's data plane for one host connection over gRPC.
func (s *server) Stream(st workerpb.Worker_StreamServer) error {
	// gRPC may read a message after Send returns (stats handlers, tracing):
	// its replies are not reused.
	ctx, cancel := context.WithCancel(st.Context())
	defer cancel()
	defer context.AfterFunc(s.stopping, cancel)()
	s.serveSession(ctx, st.Recv, func(rs []*workerpb.Reply) error {
		return wire.EachReplyBatch(rs, func(part []*workerpb.Reply) error {
			return st.Send(&workerpb.ReplyBatch{Replies: part})
		})
	}, false, nil)
	return nil
}

// serveSession runs the calls that recv returns until it fails, and sends
// their replies with send, which one goroutine at a time calls (the
// session's batcher; a runner that helps it may block in send: only this
// session waits). Either transport of the data plane (the gRPC stream,
// the socket) brings its recv and send; ctx is the calls' parent context,
// cancelled when the transport ends. With reuse, send must be done with the
// replies when it returns: they are reused for the next calls.
//
// arena is the connection's shared memory (the socket's; nil for none).
func (s *server) serveSession(ctx context.Context, recv func() (*workerpb.CallBatch, error), send func([]*workerpb.Reply) error, reuse bool, arena []byte) {
	ss := &session{
		s:       s,
		arena:   arena,
		ctx:     ctx,
		cancels: make(map[uint64]context.CancelFunc),
		jobs:    make(chan job),
		stop:    make(chan struct{}),
	}
	var sending []*workerpb.Reply // used by the one goroutine that sends at a time
	ss.out = wire.NewBatcher(func(os []*outReply, _ bool) error {
		rs := sending[:0]
		for _, o := range os {
			rs = append(rs, &o.r)
		}
		err := send(rs)
		clear(rs)
		sending = rs[:0]
		if reuse {
			for _, o := range os {
				o.release()
			}
		}
		return err
	})
	ss.sender.Go(func() { ss.out.Loop(ss.stop) })
	defer ss.close()
	for {
		b, err := recv()
		if err != nil {
			return
		}
		for _, c := range b.Calls {
			ss.start(c)
		}
		if len(b.Cancels) > 0 {
			ss.mu.Lock()
			for _, id := range b.Cancels {
				if cancel := ss.cancels[id]; cancel != nil {
					cancel()
				}
			}
			ss.mu.Unlock()
		}
	}
}

// session runs the calls of one data-plane connection. Each call runs on a
// goroutine of its own (a function may block), taken from a set of
// goroutines that stay a while for the next call, so that their stacks are
// grown once rather than for every call.
type session struct {
	s        *server
	arena    []byte // the connection's shared memory, if any
	ctx      context.Context
	out      *wire.Batcher[*outReply]
	mu       sync.Mutex
	cancels  map[uint64]context.CancelFunc // calls whose function takes a context
	inflight atomic.Int64
	peak     atomic.Int64 // the most calls in flight at once, set by start only
	idle     atomic.Int64
	jobs     chan job
	stop     chan struct{}
	runners  sync.WaitGroup
	sender   sync.WaitGroup
}

type job struct {
	call   *workerpb.Call
	m      *method
	ctx    context.Context
	cancel context.CancelFunc
}

// start hands a call to an idle runner goroutine, or to a new one. A
// function that takes a context gets one here, registered before any
// cancel frame that follows the call can be read.
func (ss *session) start(c *workerpb.Call) {
	j := job{call: c, m: ss.s.methods[c.Method], ctx: ss.ctx}
	if j.m != nil && j.m.hasCtx {
		if c.TimeoutNanos > 0 {
			j.ctx, j.cancel = context.WithTimeout(ss.ctx, time.Duration(c.TimeoutNanos))
		} else {
			j.ctx, j.cancel = context.WithCancel(ss.ctx)
		}
		ss.mu.Lock()
		ss.cancels[c.Id] = j.cancel
		ss.mu.Unlock()
	}
	ss.s.running.Add(1)
	ss.s.pre.callStarting()
	if n := ss.inflight.Add(1); n > ss.peak.Load() {
		ss.peak.Store(n)
	}
	select {
	case ss.jobs <- j:
	default:
		ss.runners.Add(1)
		go ss.runner(j)
	}
}

func (ss *session) runner(j job) {
	defer ss.runners.Done()
	for {
		ss.run(j)
		if ss.idle.Add(1) > min(max(ss.peak.Load(), minIdleRunners), maxIdleRunners) {
			ss.idle.Add(-1)
			return
		}
		var ok bool
		if j, ok = <-ss.jobs; !ok {
			return // the session is closing
		}
		ss.idle.Add(-1)
	}
}

func (ss *session) run(j job) {
	o := outReplies.Get().(*outReply)
	start := wire.Nanotime()
	o.buf = ss.s.runInto(j.ctx, j.call, j.m, &o.r, o.buf, ss.arena)
	end := wire.Nanotime()
	ran := time.Duration(end - start)
	if j.cancel != nil {
		ss.mu.Lock()
		delete(ss.cancels, j.call.Id)
		ss.mu.Unlock()
		j.cancel()
	}
	alone := ss.inflight.Add(-1) == 0
	ss.s.lastEnd.Store(end)
	ss.s.running.Add(-1)
	if ss.out.Add(o) {
		if sendNow(alone, ran) {
			ss.out.Flush()
		} else {
			ss.out.Wake() // more are coming soon: let them share a message
		}
	}
}

// flushAfter is the run time from which a call's reply is sent as soon as
// it is ready rather than gathered with the next ones: beyond it, a write
// of its own costs a few per cent of the call at most.
const flushAfter = 50 * time.Microsecond

// sendNow reports whether a reply leaves at once, written by the goroutine
// of its call, rather than by the batcher's goroutine with the replies
// that follow: when it is the last one in flight (alone), and when its call
// ran for at least flushAfter: the others may run as long, and with
// GOMAXPROCS=1 the batcher's goroutine, which yields to them to let them
// add their replies first, would only send this one once they are done.
func sendNow(alone bool, ran time.Duration) bool {
	return alone || ran >= flushAfter
}

// outReply is a reply on its way to the session's sender, with the buffer
// it owns for a small result. Once written, it goes back to outReplies with
// that buffer, for the next call.
type outReply struct {
	r   workerpb.Reply
	buf []byte
}

var outReplies = sync.Pool{New: func() any { return new(outReply) }}

// maxKeptResult is the largest result buffer a recycled reply keeps.
const maxKeptResult = 256

// release clears o, once written, and puts it back in outReplies.
func (o *outReply) release() {
	o.r = workerpb.Reply{}
	if cap(o.buf) > maxKeptResult {
		o.buf = nil
	}
	outReplies.Put(o)
}

// close cancels what still runs, waits for every goroutine of the session
// and sends the replies left: a reply whose runner handed its send to the
// batcher's goroutine as that ended. A function that ignores its context
// keeps the session open until it returns; the host kills such a worker.
func (ss *session) close() {
	ss.mu.Lock()
	for _, cancel := range ss.cancels {
		cancel()
	}
	ss.mu.Unlock()
	close(ss.jobs) // start is not called any more: the receive loop is over
	ss.runners.Wait()
	close(ss.stop)
	ss.sender.Wait()
	ss.out.Run(true)
}
