// Package serializer turns the arguments and results of farm calls into
// bytes and back.
//
// The host and the worker must agree on how a value is encoded. The farm
// sends the name of a [Serializer] with every call, and the worker finds the
// same implementation by that name in its [Registry].
//
// # Built-in serializers
//
// [JSON], named "json", uses encoding/json and is the [Default]. It is
// readable and widely understood, but it refuses NaN and ±Inf, turns []byte
// into base64 text, refuses maps with struct keys, and decodes numbers into
// an interface value as float64.
//
// [CBOR], named "cbor", uses github.com/fxamacker/cbor/v2 with options chosen
// to keep Go values intact: every float bit, time.Time with nanoseconds and
// its UTC offset, big.Int of any size, byte strings, and maps with
// non-string keys. Decoding into an interface value gives int64 (or
// *big.Int), float64, []any and map[any]any; see [CBOR] for the full list.
//
// Both honour `json:"..."` struct tags; CBOR also reads `cbor:"..."` tags.
// TABLE.md, next to this file, lists value by value what survives a round
// trip through each; a test checks every line of it.
//
// # Registries
//
// [NewRegistry] builds a [Registry] holding JSON, CBOR and any custom
// serializers. [Registry.Lookup] finds one by name (the empty name means
// JSON) and fails with an error wrapping [ErrUnknown] that lists the names
// it knows. A Registry never changes after construction, and the package
// keeps no mutable global state.
//
// # Errors
//
// Every failure of JSON and CBOR is an *[Error] naming the serializer, the
// operation ([OpMarshal] or [OpUnmarshal]) and the Go type involved, and
// wrapping the encoder's own error. Custom serializers should return *Error
// too, so callers can tell an encoding failure from a failed call.
//
// # Concurrency
//
// JSON, CBOR and every Registry are safe for concurrent use, and none of
// their methods block. Custom serializers must be safe for concurrent use
// as well.
package serializer
