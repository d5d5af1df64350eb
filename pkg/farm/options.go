package farm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// ErrInvalidOptions: a call was refused because its [CallOptions] hold a
// bad value; the message names the field. Never queued, never retried.
var ErrInvalidOptions = errors.New("invalid call options")

// CallOptions are the options of the calls made through a [Caller]; give
// them to [Farm.With]. The zero value of each field means the farm's
// behaviour, so CallOptions{} makes the same calls as the Farm itself.
type CallOptions struct {
	// Priority orders the calls waiting for a worker: a call of a higher
	// priority is dispatched before those of lower ones, FIFO within a
	// priority, retries at the front of theirs; 0 is the farm's calls'.
	// A lower priority is not starved: see StarvationLimit. Calls of
	// Farm.Broadcast and calls isolated after worker crashes have queues
	// of their own, served first.
	Priority int
	// Key, when not empty, makes the call sticky: calls with the same Key
	// run on the same worker while it lives, spread over the worker slots
	// by rendezvous hashing, so that a worker that is replaced moves only
	// its own keys (to their next slot, until its replacement is online).
	// While the key's worker is at MaxConcurrentCallsPerWorker, the call
	// waits for it (in a queue of that worker's keyed calls, by Priority),
	// even if other workers are idle. A retry is routed again: after its
	// worker died, to the next slot of its key, or to the slot's
	// replacement once it is online. With no worker online, the call runs
	// on the first worker free. Autoscaling moves keys too: a slot that
	// starts takes its keys back from the workers that held them while it
	// was scaled down.
	Key string
	// Timeout bounds each attempt of the call from its dispatch, as
	// Config.Timeout does for every call; 0 means Config.Timeout.
	Timeout time.Duration
	// MaxRetries is how many times a failed attempt of the call is run
	// again; 0 means Config.MaxRetries, NoRetries means none.
	MaxRetries int
	// Wait makes a call that finds Config.MaxConcurrentCalls calls queued
	// or in flight wait for room instead of being refused with
	// ErrMaxConcurrentCalls. Waiting calls hold nothing and are admitted
	// in arrival order as answered calls free room, before any newer
	// call; one whose ctx ends first returns ctx's error and takes no
	// room. Waiting costs no goroutine. Kill answers waiting calls with
	// ErrFarmKilled; after Shutdown begins, new calls are refused with
	// ErrShutdown, waiting or not, while those already waiting are
	// admitted and run.
	Wait bool
}

// callOpts are CallOptions checked and resolved against a farm's Config.
type callOpts struct {
	timeout    time.Duration
	maxRetries int
	wait       bool
	prio       int
	key        uint64
	keyed      bool

	// For the calls an agent relays (agent_relay.go): the serializer
	// that encoded the arguments, the function told of the answer, and
	// when its budget runs out by the farm's clock (0: never), after which
	// it is dropped unrun.
	ser     string
	notify  notifier
	expires int64
}

// notifier is told of a call's answer (see callOpts.notify).
type notifier interface{ answered(*call) }

// apply gives c the options; a nil o leaves the farm's.
func (o *callOpts) apply(c *call) { c.opts = o }

// timeout is c's timeout per attempt; 0: none.
func (c *call) timeout() time.Duration {
	if c.opts == nil {
		return c.f.cfg.Timeout
	}
	return c.opts.timeout
}

// maxRetries is how many retries c may have.
func (c *call) maxRetries() int {
	if c.opts == nil {
		return c.f.cfg.MaxRetries
	}
	return c.opts.maxRetries
}

// prio is c's priority level.
func (c *call) prio() int {
	if c.opts == nil {
		return 0
	}
	return c.opts.prio
}

// keyed reports whether c has a sticky key.
func (c *call) keyed() bool { return c.opts != nil && c.opts.keyed }

// Caller makes calls on a farm with [CallOptions]: it has the call methods
// of a [Farm] (Run, RunMethod, Go) and works with [Call] and [GoCall].
// Make one with [Farm.With]; it is a small value, cheap to make for one
// call, and safe for concurrent use. Calls through a Caller of a farm that
// was killed or shut down return ErrFarmKilled or ErrShutdown, as the
// farm's do.
type Caller struct {
	f   *Farm
	o   callOpts
	err error // the options' error, returned by every call
}

// Invoker is what makes calls for [Call] and [GoCall]: a *[Farm] or a
// *[Caller].
type Invoker interface {
	RunMethod(ctx context.Context, method string, args ...any) (Result, error)
	Go(ctx context.Context, method string, args ...any) *Future
}

var (
	_ Invoker = (*Farm)(nil)
	_ Invoker = (*Caller)(nil)
)

// With returns a Caller whose calls run with the options o:
//
//	r, err := f.With(farm.CallOptions{Timeout: time.Second, MaxRetries: farm.NoRetries}).Run(ctx, x)
//
// A bad option is not reported here: every call of the Caller returns an
// error matching ErrInvalidOptions that names the field.
func (f *Farm) With(o CallOptions) *Caller {
	c := &Caller{f: f}
	switch {
	case o.Timeout < 0:
		c.err = badOption("Timeout", o.Timeout, "must be 0 (the farm's) or positive")
	case o.MaxRetries < NoRetries:
		c.err = badOption("MaxRetries", o.MaxRetries, "must be NoRetries (-1), 0 (the farm's) or positive")
	}
	if !f.made() {
		return c
	}
	c.o.timeout, c.o.maxRetries, c.o.wait, c.o.prio = f.cfg.Timeout, f.cfg.MaxRetries, o.Wait, o.Priority
	if o.Key != "" {
		c.o.key, c.o.keyed = keyHash(o.Key), true
	}
	if o.Timeout > 0 {
		c.o.timeout = o.Timeout
	}
	switch {
	case o.MaxRetries == NoRetries:
		c.o.maxRetries = 0
	case o.MaxRetries > 0:
		c.o.maxRetries = o.MaxRetries
	}
	return c
}

func badOption(field string, v any, why string) error {
	return fmt.Errorf("%w: %s = %v: %s", ErrInvalidOptions, field, v, why)
}

// Run calls the worker's default method with args, with the Caller's
// options, and waits for the answer. See [Farm.RunMethod].
func (c *Caller) Run(ctx context.Context, args ...any) (Result, error) {
	return c.RunMethod(ctx, defaultMethod, args...)
}

// RunMethod calls method with args, with the Caller's options, and waits
// for the answer. See [Farm.RunMethod].
func (c *Caller) RunMethod(ctx context.Context, method string, args ...any) (Result, error) {
	if c.err != nil {
		return Result{}, c.err
	}
	return c.f.runMethod(ctx, method, &c.o, args, nil)
}

// Go starts a call of method with args, with the Caller's options, and
// returns its [Future] without waiting. See [Farm.Go].
func (c *Caller) Go(ctx context.Context, method string, args ...any) *Future {
	if c.err != nil {
		fu := &Future{}
		fu.f, fu.slot = c.f, -1
		fu.answered.Add(1)
		return fu.refuse(c.err)
	}
	return c.f.goCall(ctx, method, &c.o, args)
}
