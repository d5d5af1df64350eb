package farm

import (
	"errors"
	"fmt"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// Sentinel errors a [RemoteError] matches with [errors.Is], one for each kind
// of failure the worker reports other than the function's own error.
var (
	// ErrUnknownMethod: the worker has no function of that name. Never retried.
	ErrUnknownMethod = errors.New("unknown method")
	// ErrBadArguments: wrong argument count, or an argument that does not
	// decode into its parameter's type. Never retried.
	ErrBadArguments = errors.New("bad arguments")
	// ErrBadResult: the function's result could not be encoded. Never retried.
	ErrBadResult = errors.New("result cannot be encoded")
	// ErrPanic: the function panicked; the worker recovered and keeps serving.
	ErrPanic = errors.New("function panicked")
	// ErrUnknownSerializer: the worker does not know the call's serializer.
	// Never retried.
	ErrUnknownSerializer = errors.New("worker does not know the serializer")
	// ErrTooLarge: a payload, a result or a frame exceeds the size limit
	// (MaxMessageSize). Never retried, but for a frame that a worker sent
	// beyond the limit: its data plane is broken, so it is a worker death
	// (a *WorkerExitError with this cause), retried as one.
	ErrTooLarge = wire.ErrTooLarge
	// ErrPermanent: the function marked its error with plugin.Permanent.
	// Never retried.
	ErrPermanent = errors.New("permanent error")
	// ErrCanceled: the call's context inside the worker ended (the host
	// cancelled it or its attempt timed out) and the function returned that.
	ErrCanceled = errors.New("call canceled in worker")
)

// Code says what kind of failure a [RemoteError] reports.
type Code int32

// The failure kinds, as on the wire.
const (
	CodeApplication       = Code(workerpb.Error_APPLICATION)
	CodeUnknownMethod     = Code(workerpb.Error_UNKNOWN_METHOD)
	CodeBadArguments      = Code(workerpb.Error_BAD_ARGUMENTS)
	CodeBadResult         = Code(workerpb.Error_BAD_RESULT)
	CodePanic             = Code(workerpb.Error_PANIC)
	CodeUnknownSerializer = Code(workerpb.Error_UNKNOWN_SERIALIZER)
	CodeCanceled          = Code(workerpb.Error_CANCELED)
	CodeTooLarge          = Code(workerpb.Error_TOO_LARGE)
)

// String returns the code's name, e.g. "APPLICATION".
func (c Code) String() string { return workerpb.Error_Code(c).String() }

// RemoteError is a failure reported by the worker for one call: the
// function's own error, a panic, or a refusal (unknown method, bad
// arguments...). It crossed the process boundary as data, so the worker and
// its connection are still fine.
//
// Match the kind with [errors.Is] against [ErrUnknownMethod],
// [ErrBadArguments], [ErrPanic], [ErrPermanent] and the other sentinels;
// decode the error value's exported fields with [RemoteError.DecodeDetails].
type RemoteError struct {
	// Method is the called method.
	Method string
	// Code is the kind of failure.
	Code Code
	// Type is the Go type name of the error value in the worker, such as
	// "*fs.PathError", or "panic".
	Type string
	// Message is the error's Error() text, or the panic value.
	Message string
	// Stack is the worker goroutine's stack for a panic.
	Stack string
	// Details holds the error value's exported fields as encoded by the
	// call's serializer; empty when it has none.
	Details []byte
	// Permanent is set when the function marked the error with plugin.Permanent.
	Permanent bool

	ser serializer.Serializer
}

// Error returns "method \"m\": <Type>: <Message>".
func (e *RemoteError) Error() string {
	kind := e.Type
	if kind == "" {
		kind = e.Code.String()
	}
	return fmt.Sprintf("method %q: %s: %s", e.Method, kind, e.Message)
}

// Is reports whether target is the sentinel for e's kind.
func (e *RemoteError) Is(target error) bool {
	switch target {
	case ErrUnknownMethod:
		return e.Code == CodeUnknownMethod
	case ErrBadArguments:
		return e.Code == CodeBadArguments
	case ErrBadResult:
		return e.Code == CodeBadResult
	case ErrPanic:
		return e.Code == CodePanic
	case ErrUnknownSerializer:
		return e.Code == CodeUnknownSerializer
	case ErrTooLarge:
		return e.Code == CodeTooLarge
	case ErrCanceled:
		return e.Code == CodeCanceled
	case ErrPermanent:
		return e.Permanent
	}
	return false
}

// Retryable reports whether the farm may run the call again after this
// error: true for the function's own errors and panics unless marked
// permanent; false for refusals of the call itself.
func (e *RemoteError) Retryable() bool {
	if e.Permanent {
		return false
	}
	return e.Code == CodeApplication || e.Code == CodePanic
}

// DecodeDetails decodes the error value's exported fields into v, with the
// serializer of the call that failed.
func (e *RemoteError) DecodeDetails(v any) error {
	if len(e.Details) == 0 {
		return fmt.Errorf("method %q: error %s has no details", e.Method, e.Type)
	}
	s := e.ser
	if s == nil {
		s = serializer.JSON
	}
	return s.Unmarshal(e.Details, v)
}

// remoteError is the RemoteError of a failed call of method, whose details
// decode with s.
func remoteError(method string, pe *workerpb.Error, s serializer.Serializer) *RemoteError {
	return &RemoteError{
		Method:    method,
		Code:      Code(pe.GetCode()),
		Type:      pe.GetType(),
		Message:   pe.GetMessage(),
		Stack:     pe.GetStack(),
		Details:   pe.GetDetails(),
		Permanent: pe.GetPermanent(),
		ser:       s,
	}
}
