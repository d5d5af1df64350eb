package serializer

// Serializer turns Go values into bytes and back. The same implementation,
// found by the same name, must run on the host and in the worker: the farm
// sends the name with every call and the worker looks it up.
//
// Implementations must be safe for concurrent use.
type Serializer interface {
	// Name identifies the serializer on the wire. It must be non-empty and
	// unique among the serializers a worker knows.
	Name() string
	// Marshal encodes v. It should encode every value in at least one
	// byte: an empty result reads as a function that returned nothing
	// (farm's ErrNoResult), so a serializer whose encoding of some value
	// is empty (a protobuf message of default fields) should add a byte
	// of its own.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}

// Appender is an optional interface of a Serializer that encodes small
// values straight into a caller's buffer: the farm then encodes a call's
// small arguments into one buffer instead of one allocation each, and a
// worker a small result into a buffer it reuses for the next call.
type Appender interface {
	// AppendSmall appends the encoding of v to dst, the same bytes as
	// Marshal's, and reports true; or returns dst unchanged and false when
	// v is not a value it encodes that way (the caller then uses Marshal).
	// What it returns must be dst, or dst grown by append: the caller owns
	// it and writes into it again.
	AppendSmall(dst []byte, v any) ([]byte, bool)
}
