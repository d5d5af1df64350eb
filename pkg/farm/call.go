package farm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/serializer"
)

type callState uint8

const (
	stQueued  callState = iota // in a queue, or waiting out a retry backoff
	stWaiting                  // waiting for room under MaxConcurrentCalls (CallOptions.Wait)
	stRunning                  // sent to a worker
	stDone                     // answered
)

// A call's method name and argument count are bounded, so that what a call
// adds to a frame beyond its arguments fits the frame's envelope.
const (
	maxMethodName = 4 << 10
	maxArgs       = 4 << 10
)

// inlineArgs is how many arguments a call holds without an allocation of
// their own, and inlineArgBytes how many bytes of small encoded arguments.
const (
	inlineArgs     = 4
	inlineArgBytes = 32
)

// call is one call from submission to answer; a [Future] is its public face.
// Every field after the first block is guarded by the farm's lock until
// answered is done, then read-only, until the call's owner reuses it once
// nothing in the farm refers to it (recyclable: runMethod's spares, an
// agent's relayed calls).
type call struct {
	f      *Farm
	ctx    context.Context
	method string
	args   [][]byte
	// rawArgs has bit i set when args[i] is a byte slice as it is, not
	// encoded (see wire.Request.RawArgs).
	rawArgs  uint64
	loan     *wire.Loan     // the caller's own big []byte arguments, lent (RunMethod)
	dest     *wire.Dest     // the caller's buffer for a []byte result (AppendCall)
	pin      *slot          // broadcast: the slot that must run it (a remote slot's worker: Farm.pinnedTo)
	answered sync.WaitGroup // done when the call is answered
	argv     [inlineArgs][]byte
	argBytes [inlineArgBytes]byte

	done atomic.Pointer[chan struct{}] // made by Future.Done; closed, or set to closed, when answered

	id    uint64
	state callState
	// crashes counts the worker deaths the call was in flight at (at
	// most 255).
	crashes uint8
	// recyclable: answered with no error by its first attempt, with its
	// context watch and its timer stopped before they fired: nothing in
	// the farm refers to it any more.
	recyclable bool
	rawResult  bool    // result is a byte slice as it is, not encoded
	attempt    int32   // in the padding after the flags: a Future stays in its size class
	wire       uint64  // the current attempt's id on the wire
	w          *worker // the worker running the current attempt
	stopCtx    func() bool
	timer      *time.Timer
	submitted  int64 // when it entered the queue (submission or retry), by Farm.clock
	dispatched int64 // when its current attempt was sent, by Farm.clock

	result []byte
	err    error
	slot   int // the slot and pid that answered, -1 if none
	pid    int
	wid    int // the id of the worker that answered, for events

	// opts are the call's options (see CallOptions), shared with its
	// Caller; nil: the farm's.
	opts *callOpts
}

// Run calls the worker's default method (plugin.DefaultMethod) with args
// and waits for the answer. See [Farm.RunMethod].
func (f *Farm) Run(ctx context.Context, args ...any) (Result, error) {
	return f.RunMethod(ctx, defaultMethod, args...)
}

// RunMethod calls method on the least busy worker with args, each encoded
// by the farm's serializer, and waits for the answer. The call waits in a
// FIFO queue while every worker is at its MaxConcurrentCallsPerWorker;
// failed attempts are retried as Config.MaxRetries says. ctx bounds the
// whole call, queued and running: when it ends, the call returns ctx's
// error, its context in the worker is cancelled and it is not retried.
func (f *Farm) RunMethod(ctx context.Context, method string, args ...any) (Result, error) {
	return f.runMethod(ctx, method, nil, args, nil)
}

// runMethod is RunMethod with the options o (nil: the farm's), and a
// []byte result in shared memory copied into dest when it fits (nil: into
// a buffer of the method's hint, if any; see resultbuf.go).
func (f *Farm) runMethod(ctx context.Context, method string, o *callOpts, args []any, dest *wire.Dest) (Result, error) {
	if !f.made() {
		return Result{}, ErrNotStarted
	}
	// The Future never leaves this function, so it is recycled once
	// nothing in the farm refers to it.
	fu, _ := f.spares.Get().(*Future)
	if fu == nil {
		fu = new(Future)
	}
	f.initFuture(fu, ctx, method, nil)
	o.apply(&fu.call)
	var hint *resultHint
	own := dest == nil
	if own {
		// The new slice of a big result, made here (resultbuf.go).
		if hint, dest = f.hints.dest(ctx, method); dest != nil {
			defer f.hints.release()
		}
	}
	fu.dest = dest
	f.submitTo(fu, args, true).answered.Wait()
	if fu.loan != nil {
		// The caller may change its slices once this returns.
		fu.loan.Return()
	}
	result := fu.result
	if own && fu.err == nil { // a failure teaches nothing
		result = f.hints.learn(hint, method, dest, result, fu.rawResult)
	}
	if dest != nil {
		dest.Return() // nor is its buffer written once this returns
	}
	r, err := Result{raw: result, ser: f.cfg.Serializer, rawBytes: fu.rawResult}, fu.err
	if fu.recyclable {
		fu.call = call{} // keeps no context or result alive in the pool
		f.spares.Put(fu)
	}
	return r, err
}

// Go starts a call of method and returns its [Future] without waiting. It
// starts no goroutine: 100,000 calls in flight cost about their arguments
// and a few hundred bytes each. Errors that refuse the call at once (bad
// arguments, MaxConcurrentCalls, a killed farm) are in the Future.
func (f *Farm) Go(ctx context.Context, method string, args ...any) *Future {
	return f.goCall(ctx, method, nil, args)
}

// goCall is Go with the options o (nil: the farm's).
func (f *Farm) goCall(ctx context.Context, method string, o *callOpts, args []any) *Future {
	if !f.made() {
		fu := &Future{}
		fu.f, fu.slot = f, -1
		fu.answered.Add(1)
		return fu.refuse(ErrNotStarted)
	}
	fu := f.newFuture(ctx, method, nil)
	o.apply(&fu.call)
	return f.submitTo(fu, args, false)
}

// DefaultMethod is the name of the worker's default method, the one
// [Farm.Run] and [Farm.Broadcast] call: plugin.DefaultMethod in the worker.
const DefaultMethod = "run"

const defaultMethod = DefaultMethod

// made reports whether New made f: the methods of a zero Farm return
// ErrNotStarted.
func (f *Farm) made() bool { return f != nil && f.done != nil }

// submitTo encodes args into fu and submits it. With lend, the caller
// waits for the answer and then returns the loan (fu.loan): big []byte
// arguments are not copied.
func (f *Farm) submitTo(fu *Future, args []any, lend bool) *Future {
	ctx, method := fu.ctx, fu.method
	if err := ctx.Err(); err != nil {
		return fu.refuse(err)
	}
	enc, raw, lent, err := f.encodeArgs(method, args, fu.argv[:0], fu.argBytes[:0], lend)
	if err != nil {
		return fu.refuse(err)
	}
	if lent != 0 {
		fu.loan = wire.NewLoan(enc, lent)
	}
	return f.enter(fu, enc, raw)
}

func (f *Farm) newFuture(ctx context.Context, method string, pin *slot) *Future {
	fu := new(Future)
	f.initFuture(fu, ctx, method, pin)
	return fu
}

// initFuture readies fu, new or recycled (zero), for a call.
func (f *Farm) initFuture(fu *Future, ctx context.Context, method string, pin *slot) {
	fu.f, fu.ctx, fu.method, fu.pin, fu.slot = f, ctx, method, pin, -1
	fu.answered.Add(1)
}

// encodeArgs encodes each argument on its own with the farm's serializer,
// into argv when it has room for them. Small arguments go into buf's room
// (or a buffer of their own) when the serializer is a
// [serializer.Appender], the others each into its own Marshal buffer. Raw
// byte slices are copied, except, with lend, those of at least
// wire.VecMin bytes: bit i of lent says args[i] is the caller's own.
func (f *Farm) encodeArgs(method string, args []any, argv [][]byte, buf []byte, lend bool) (enc [][]byte, raw, lent uint64, err error) {
	switch {
	case method == "":
		return nil, 0, 0, fmt.Errorf("%w: empty method name", ErrUnknownMethod)
	case len(method) > maxMethodName:
		return nil, 0, 0, fmt.Errorf("%w: a method name of %d bytes (at most %d)", ErrTooLarge, len(method), maxMethodName)
	case len(args) > maxArgs:
		return nil, 0, 0, fmt.Errorf("method %q: %w: %d arguments (at most %d)", method, ErrTooLarge, len(args), maxArgs)
	}
	if cap(argv) < len(args) {
		argv = make([][]byte, len(args))
	}
	argv = argv[:len(args)]
	ap, _ := f.cfg.Serializer.(serializer.Appender)
	var ends [inlineArgs]int // where each small argument ends in buf; 0 if not there
	size := 0
	for i, a := range args {
		if b, ok := a.([]byte); ok && len(b) > 0 && i < 64 && f.rawBytes.Load() {
			// As it is: lent, or a copy, for the caller may change its
			// slice once the call returns, or before it is sent. A nil
			// or empty slice goes through the serializer, which tells
			// them apart.
			if lend && len(b) >= wire.VecMin {
				argv[i] = b
				lent |= 1 << i
			} else {
				argv[i] = append(make([]byte, 0, len(b)), b...)
			}
			raw |= 1 << i
			size += f.encodedBytesLen(len(b)) // what a worker without raw bytes gets
			continue
		}
		if ap != nil && i < inlineArgs {
			var ok bool
			start := len(buf)
			if buf, ok = ap.AppendSmall(buf, a); ok && len(buf) > start {
				ends[i] = len(buf)
				size += len(buf) - start
				continue
			}
			buf = buf[:start]
		}
		b, err := f.cfg.Serializer.Marshal(a)
		if err != nil {
			return nil, 0, 0, fmt.Errorf("method %q: argument %d: %w", method, i+1, err)
		}
		argv[i] = b
		size += len(b)
	}
	// buf may have moved as it grew: slice it once it is complete.
	start := 0
	for i, end := range ends {
		if end > 0 {
			argv[i] = buf[start:end:end]
			start = end
		}
	}
	if size > f.cfg.MaxMessageSize {
		how := ""
		if raw != 0 {
			how = fmt.Sprintf(" (a []byte counted as %s encodes it, which is how a worker without raw bytes gets it)", f.cfg.Serializer.Name())
		}
		return nil, 0, 0, fmt.Errorf("method %q: %w: arguments of %d bytes encoded%s exceed MaxMessageSize (%d)",
			method, ErrTooLarge, size, how, f.cfg.MaxMessageSize)
	}
	return argv, raw, lent, nil
}

// submitEncoded submits a call of method with args already encoded.
// A broadcast call for a remote slot (pinW, the agent's worker that must
// run it) is kept in Farm.pinnedTo until it is answered.
func (f *Farm) submitEncoded(ctx context.Context, method string, pin *slot, pinW *worker, args [][]byte, raw uint64) *Future {
	fu := f.newFuture(ctx, method, pin)
	if err := ctx.Err(); err != nil {
		return fu.refuse(err)
	}
	if pinW != nil {
		f.mu.Lock()
		if f.pinnedTo == nil {
			f.pinnedTo = make(map[*call]*worker)
		}
		f.pinnedTo[&fu.call] = pinW
		f.mu.Unlock()
	}
	return f.enter(fu, args, raw)
}

// enter puts fu, whose args are encoded, in the queue and dispatches.
func (f *Farm) enter(fu *Future, args [][]byte, raw uint64) *Future {
	c := &fu.call
	c.args, c.rawArgs = args, raw
	c.submitted = f.clock()
	f.mu.Lock()
	err := f.takeLocked(fu)
	var fl flushList
	if err == nil {
		f.dispatchLocked(&fl)
	} else if c.pin != nil {
		delete(f.pinnedTo, c)
	}
	f.mu.Unlock()
	if err != nil {
		return fu.refuse(err)
	}
	fl.flush()
	return fu
}

// enterAll enters each of fus, whose args are set, and dispatches them
// together: the calls for one worker share its next message.
func (f *Farm) enterAll(fus []*Future) {
	now := f.clock()
	var refused []error
	f.mu.Lock()
	for i, fu := range fus {
		fu.call.submitted = now
		if err := f.takeLocked(fu); err != nil {
			if refused == nil {
				refused = make([]error, len(fus))
			}
			refused[i] = err
		}
	}
	var fl flushList
	f.dispatchLocked(&fl)
	f.mu.Unlock()
	for i, err := range refused {
		if err != nil {
			fus[i].refuse(err)
		}
	}
	fl.flush()
}

// takeLocked puts fu in the queue (or the waiters), or returns why it is
// refused.
func (f *Farm) takeLocked(fu *Future) error {
	c := &fu.call
	switch {
	case f.state == farmKilled:
		return ErrFarmKilled
	case f.state == farmDraining:
		return ErrShutdown
	case f.cfg.MaxConcurrentCalls > 0 && f.active >= f.cfg.MaxConcurrentCalls && c.opts != nil && c.opts.wait:
		f.waitLocked(c)
		return nil
	case f.cfg.MaxConcurrentCalls > 0 && f.active >= f.cfg.MaxConcurrentCalls:
		f.st.refused++
		return fmt.Errorf("%w: %d calls queued or in flight (MaxConcurrentCalls)", ErrMaxConcurrentCalls, f.active)
	case f.pinGoneLocked(c):
		return f.pinGoneErrLocked(c)
	}
	f.nextCall++
	c.id = f.nextCall
	f.active++
	f.st.submitted++
	f.enqueueLocked(c, false)
	if ctx := fu.ctx; ctx.Done() != nil {
		c.stopCtx = context.AfterFunc(ctx, func() { f.cancel(c) })
	}
	return nil
}

// isolateAfter is the number of worker deaths a call must have been in
// flight at before it runs alone: a call that kills every worker it runs on
// then cannot take other calls down with it again, while the calls of a
// worker that died once are redistributed at once, concurrently.
const isolateAfter = 2

// pinGoneLocked reports whether c is a broadcast call for a remote slot
// whose agent's worker is no longer there to take it (lost, left or
// draining): it cannot run anywhere else.
func (f *Farm) pinGoneLocked(c *call) bool {
	if c.pin == nil || !c.pin.remote {
		return false
	}
	w := f.pinnedTo[c]
	return w != nil && (c.pin.cur != w || !w.online())
}

// pinGoneErrLocked is the error of a call that pinGoneLocked reports.
func (f *Farm) pinGoneErrLocked(c *call) error {
	w := f.pinnedTo[c]
	return &WorkerExitError{Slot: c.pin.index, Agent: w.agent, PID: w.pid, Status: ExitStatus{Code: -1},
		Cause: fmt.Errorf("%w: agent %s is gone or draining; a broadcast call runs on its own worker only", ErrAgentLost, w.agent)}
}

// mustRunAlone reports whether c runs alone on a worker: it was in flight
// at isolateAfter worker deaths. A broadcast call stays on its slot.
func (c *call) mustRunAlone() bool { return c.pin == nil && c.crashes >= isolateAfter }

// crashed counts a worker death c was in flight at.
func (c *call) crashed() {
	if c.crashes < 255 {
		c.crashes++
	}
}

// encodedBytesLen bounds the length of a byte slice of n bytes encoded by
// the farm's serializer: a byte string's header and bytes for CBOR, base64
// in quotes for JSON (and, to be safe, for any other).
func (f *Farm) encodedBytesLen(n int) int {
	if f.cfg.Serializer.Name() == "cbor" {
		return n + 9
	}
	return max(4*((n+2)/3)+2, n+9)
}

// encodeRaw returns args with each raw byte slice (its bit set in raw)
// encoded by the serializer, for a worker that takes no raw arguments.
func (f *Farm) encodeRaw(args [][]byte, raw uint64) [][]byte {
	enc := make([][]byte, len(args))
	for i, a := range args {
		enc[i] = a
		if i < 64 && raw&(1<<i) != 0 {
			b, err := f.cfg.Serializer.Marshal(a)
			if err != nil {
				b = nil // a []byte always encodes with the built-in serializers
			}
			enc[i] = b
		}
	}
	return enc
}

// markAnswered wakes the call's waiters: those of Result and Wait, and of
// a Done channel, made before or after.
func (c *call) markAnswered() {
	if ch := c.done.Swap(&closed); ch != nil {
		close(*ch)
	}
	var n notifier
	if c.opts != nil {
		n = c.opts.notify
	}
	c.answered.Done() // a waiter may reuse c from here: only n is read
	if n != nil {
		// Nothing waits for a notified call: its notifier may reuse it
		// once told.
		n.answered(c)
	}
}

// serializer is the name of the serializer of c's arguments.
func (c *call) serializer() string {
	if c.opts != nil && c.opts.ser != "" {
		return c.opts.ser
	}
	return c.f.cfg.Serializer.Name()
}

// refuse answers a call that never entered the farm.
func (fu *Future) refuse(err error) *Future {
	fu.err = err
	fu.state = stDone
	fu.markAnswered()
	return fu
}

// cancel ends a call whose context ended: queued, it leaves the queue;
// running, its context in the worker is cancelled and its worker slot stays
// busy until the worker answers (or is recycled, after KillTimeout).
func (f *Farm) cancel(c *call) { f.cancelWith(c, nil) }

// cancelWith ends c as cancel does, with err (nil: its context's error).
func (f *Farm) cancelWith(c *call, err error) {
	f.mu.Lock()
	if c.state == stDone {
		f.mu.Unlock()
		return
	}
	var fl flushList
	switch c.state {
	case stWaiting:
		f.leaveLocked(c)
	case stRunning:
		f.abandonLocked(c, &fl)
	default:
		f.queued--
		delete(f.backoff, c)
	}
	if err == nil {
		err = c.ctx.Err()
	}
	f.settleLocked(c, nil, err)
	f.dispatchLocked(&fl)
	f.mu.Unlock()
	fl.flush()
}
