package serializer

import "encoding/json"

// JSON is the default [Serializer], named "json". It uses encoding/json with
// its default settings, so the usual encoding/json rules apply: NaN and ±Inf
// are refused, []byte travels as a base64 string, maps need string, integer
// or encoding.TextMarshaler keys, and decoding into an interface value gives
// float64, string, bool, nil, []any and map[string]any. See TABLE.md for the
// full list of what survives a round trip.
//
// JSON is safe for concurrent use. Its failures are *[Error] values.
var JSON = jsonSerializer{}

// jsonSerializer implements [JSON].
type jsonSerializer struct{}

var _ Serializer = JSON

// Name returns "json".
func (jsonSerializer) Name() string { return "json" }

// Marshal encodes v with json.Marshal.
func (s jsonSerializer) Marshal(v any) ([]byte, error) {
	if b, ok := appendFast(nil, v); ok {
		return b, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, wrap(s.Name(), OpMarshal, v, err)
	}
	return b, nil
}

// AppendSmall appends the encoding of v to dst when v is a number, a bool,
// a short plain string or a short []byte, which it encodes as json.Marshal
// does.
func (jsonSerializer) AppendSmall(dst []byte, v any) ([]byte, bool) {
	if b, ok := v.([]byte); ok && len(b) > maxSmallBytes {
		return dst, false // Marshal gives it a buffer of its own
	}
	return appendFast(dst, v)
}

// maxSmallBytes is the longest []byte that AppendSmall takes.
const maxSmallBytes = 48

// Unmarshal decodes data with json.Unmarshal into the value v points to.
func (s jsonSerializer) Unmarshal(data []byte, v any) error {
	if decodeFast(data, v) {
		return nil
	}
	return wrap(s.Name(), OpUnmarshal, v, json.Unmarshal(data, v))
}
