package serializer

import (
	"errors"
	"fmt"
)

// ErrUnknown is returned, wrapped, by [Registry.Lookup] when no serializer
// has the requested name. Match it with errors.Is.
var ErrUnknown = errors.New("unknown serializer")

// ErrInvalid is returned, wrapped, by [NewRegistry] when a serializer is
// nil, has an empty name, or has a name already taken. Match it with
// errors.Is; the message names the offending serializer.
var ErrInvalid = errors.New("invalid serializer")

// Op values of [Error].
const (
	OpMarshal   = "marshal"
	OpUnmarshal = "unmarshal"
)

// Error reports a failed Marshal or Unmarshal. [JSON] and [CBOR] return
// every failure as an *Error; custom serializers are encouraged to do the
// same. The underlying cause is available through errors.Unwrap, errors.Is
// and errors.As.
type Error struct {
	// Serializer is the Name of the serializer that failed.
	Serializer string
	// Op is OpMarshal or OpUnmarshal.
	Op string
	// Type is the Go type of the value passed to Marshal or Unmarshal, as
	// printed by %T: "chan int", "*main.T", or "<nil>". For Unmarshal it is
	// the type of the destination, usually a pointer.
	Type string
	// Err is the cause reported by the underlying encoder or decoder.
	Err error
}

// Error returns a message such as
// "serializer json: cannot marshal chan int: json: unsupported type: chan int"
// or "serializer cbor: cannot unmarshal into *int: ...".
func (e *Error) Error() string {
	verb := "cannot " + e.Op + " "
	if e.Op == OpUnmarshal {
		verb += "into "
	}
	return "serializer " + e.Serializer + ": " + verb + e.Type + ": " + fmt.Sprint(e.Err)
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// wrap returns nil if err is nil, and an *Error describing the failure
// otherwise.
func wrap(name, op string, v any, err error) error {
	if err == nil {
		return nil
	}
	return &Error{Serializer: name, Op: op, Type: fmt.Sprintf("%T", v), Err: err}
}
