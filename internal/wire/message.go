package wire

import (
	"time"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// Request is one attempt of a call, as the host sends it to a worker.
type Request struct {
	// ID identifies the call among those in flight on the connection.
	ID uint64
	// Method is the registered function's name.
	Method string
	// Serializer is the name of the serializer that encoded Args.
	Serializer string
	// Args holds each positional argument, encoded on its own.
	Args [][]byte
	// Timeout, when positive, bounds the attempt inside the worker.
	Timeout time.Duration
	// RawArgs has bit i set when Args[i] is a byte slice as it is, not
	// encoded by the serializer (see workerpb.Call.raw_args).
	RawArgs uint64
	// ShmOffset and ShmSize are the call's block in the connection's
	// shared-memory arena (see [Arena]), ShmArgs the bits of the raw
	// arguments copied into it, which the frame then carries empty
	// (workerpb.Call.shm_args). All zero without a block.
	ShmOffset, ShmSize, ShmArgs uint64
	// Loan, when not nil, guards Args: some are a blocked caller's own
	// slices, read only under its lock (see [Loan]).
	Loan *Loan
	// Dest, when not nil, is a blocked caller's buffer that a result in
	// shared memory is appended to (see [Dest]); it does not travel.
	Dest *Dest
}

// PB is r as the protobuf message.
func (r *Request) PB() *workerpb.Call {
	c := &workerpb.Call{
		Id:           r.ID,
		Method:       r.Method,
		Serializer:   r.Serializer,
		Args:         r.Args,
		TimeoutNanos: int64(r.Timeout),
		RawArgs:      r.RawArgs,
		ShmOffset:    r.ShmOffset,
		ShmSize:      r.ShmSize,
		ShmArgs:      r.ShmArgs,
	}
	if r.ShmArgs != 0 {
		c.Args = make([][]byte, len(r.Args))
		for i, a := range r.Args {
			if r.inShm(i) {
				c.Args[i] = []byte{}
				c.ShmArgLens = append(c.ShmArgLens, uint64(len(a)))
			} else {
				c.Args[i] = a
			}
		}
	}
	return c
}

// Response is a worker's answer to one [Request].
type Response struct {
	// ID is the answered Request's ID.
	ID uint64
	// Result is the encoded result; nil for functions without one or on failure.
	Result []byte

	// Failure is the worker's error for the call; nil on success.
	Failure *workerpb.Error
	// RawResult says Result is a byte slice as it is, not encoded by the
	// serializer.
	RawResult bool
	// ShmResult, when not zero, is the worker's claim that the result is
	// the first ShmResult bytes of the call's block (workerpb.Reply.
	// shm_result_len); the host's Arena checks it and copies the result
	// out, then sets it back to zero.
	ShmResult uint64

	// Err, set by a host-side transport (an agent's), is the attempt's
	// failure when no worker reported one; Crash says the worker running
	// it ended.
	Err   error
	Crash bool
	// PID, set by an agent's transport, is the process on the agent that
	// ran the call.
	PID int
}

// Failed reports whether the call failed in the worker.
func (r *Response) Failed() bool { return r.Failure != nil }

// Item is a request, or the id of a call to cancel.
type Item struct {
	Req      Request
	Cancel   uint64
	IsCancel bool
}

// ItemCost bounds what it adds to a message: its arguments, names, and an
// allowance for its id, timeout and tags.
func ItemCost(it *Item) int {
	if it.IsCancel {
		return 11
	}
	n := len(it.Req.Method) + len(it.Req.Serializer) + 48
	for _, a := range it.Req.Args {
		n += len(a) + 6
	}
	return n
}
