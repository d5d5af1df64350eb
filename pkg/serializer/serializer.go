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
	// Marshal encodes v.
	Marshal(v any) ([]byte, error)
	// Unmarshal decodes data into the value v points to.
	Unmarshal(data []byte, v any) error
}
