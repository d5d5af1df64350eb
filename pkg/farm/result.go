package farm

import (
	"context"
	"fmt"

	"github.com/workestrator/workestrator/pkg/serializer"
)

// Result is a call's encoded result. Decode it into any Go value of a type
// the function's result decodes into.
type Result struct {
	raw []byte
	ser serializer.Serializer
	// rawBytes: raw is a []byte result as it is, which the worker sent
	// without encoding it.
	rawBytes bool
}

// Decode decodes the result into the value v points to. It returns
// ErrNoResult when the function returns no value. A []byte result decodes
// into a *[]byte without a copy, and into any other type as its encoding by
// the serializer would.
func (r Result) Decode(v any) error {
	if r.rawBytes {
		if p, ok := v.(*[]byte); ok {
			*p = r.raw
			return nil
		}
	}
	b := r.Bytes()
	if len(b) == 0 && !r.rawBytes {
		return ErrNoResult
	}
	if err := r.ser.Unmarshal(b, v); err != nil {
		return fmt.Errorf("farm: decode result: %w", err)
	}
	return nil
}

// Bytes returns the result as the serializer encodes it; nil when the
// function returns no value.
func (r Result) Bytes() []byte {
	if r.rawBytes {
		b, err := r.ser.Marshal(r.raw)
		if err != nil {
			return nil
		}
		return b
	}
	return r.raw
}

// Future is an asynchronous call, returned by [Farm.Go]. It costs no
// goroutine: wait on it with [Future.Wait], or select on [Future.Done] and
// then read [Future.Result]. Safe for concurrent use.
type Future struct {
	call
}

// closed is the Done channel of calls answered before Done was asked for.
var closed = func() chan struct{} {
	c := make(chan struct{})
	close(c)
	return c
}()

// Done is closed when the call is answered. The channel is made on the
// first call of Done: a Future that is only waited on with Result or Wait
// costs no channel.
func (fu *Future) Done() <-chan struct{} {
	if ch := fu.done.Load(); ch != nil {
		return *ch
	}
	ch := make(chan struct{})
	if fu.done.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *fu.done.Load() // made by another Done, or closed by the answer
}

// Result returns the call's result and error once Done is closed; before
// that it blocks until it is.
func (fu *Future) Result() (Result, error) {
	fu.answered.Wait()
	if fu.f == nil { // refused by a nil *Farm
		return Result{}, fu.err
	}
	return Result{raw: fu.result, ser: fu.f.cfg.Serializer, rawBytes: fu.rawResult}, fu.err
}

// Wait blocks until the call is answered or ctx ends. A ctx that ends only
// stops the wait; the call goes on (cancel it through the context given to
// Go).
func (fu *Future) Wait(ctx context.Context) (Result, error) {
	select {
	case <-fu.Done():
		return fu.Result()
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
}

// Call runs method on a worker and decodes its result into a T.
//
//	sum, err := farm.Call[int](ctx, f, "add", 1, 2, 3)
//
// f is a *Farm, or a *Caller for calls with options:
//
//	n, err := farm.Call[int](ctx, f.With(farm.CallOptions{Key: "user-42"}), "add", 1, 2, 3)
func Call[T any](ctx context.Context, f Invoker, method string, args ...any) (T, error) {
	return decodeAs[T](f.RunMethod(ctx, method, args...))
}

// TypedFuture is a [Future] whose result decodes into a T, returned by
// [GoCall]. Safe for concurrent use.
type TypedFuture[T any] struct {
	fu *Future
}

// GoCall starts a call of method, like [Farm.Go], and returns a future
// whose Result is decoded into a T.
//
//	sum := farm.GoCall[int](ctx, f, "add", 1, 2, 3)
//	n, err := sum.Result()
//
// f is a *Farm, or a *Caller for calls with options.
func GoCall[T any](ctx context.Context, f Invoker, method string, args ...any) *TypedFuture[T] {
	return &TypedFuture[T]{fu: f.Go(ctx, method, args...)}
}

// Done is closed when the call is answered.
func (t *TypedFuture[T]) Done() <-chan struct{} { return t.fu.Done() }

// Result blocks until the call is answered and returns its result decoded
// into a T.
func (t *TypedFuture[T]) Result() (T, error) { return decodeAs[T](t.fu.Result()) }

// Wait is Result bounded by ctx: a ctx that ends only stops the wait.
func (t *TypedFuture[T]) Wait(ctx context.Context) (T, error) { return decodeAs[T](t.fu.Wait(ctx)) }

// Future returns the untyped future, for its raw result.
func (t *TypedFuture[T]) Future() *Future { return t.fu }

func decodeAs[T any](r Result, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	err = r.Decode(&v)
	return v, err
}
