package serializer

import (
	"github.com/fxamacker/cbor/v2"
)

// CBOR is a [Serializer] named "cbor" that uses github.com/fxamacker/cbor/v2
// (RFC 8949) with options chosen to keep Go values intact:
//
//   - float64 and float32 keep their width and every bit: NaN (with its
//     payload), +Inf, -Inf and -0 all round trip.
//   - time.Time is a tag-0 RFC 3339 string with nanoseconds and the UTC
//     offset; the tag is always written. The instant and offset survive, but
//     the Location comes back as a fixed zone (its name is lost), as with
//     JSON. The zero time is written as null and decodes to the zero time.
//   - big.Int is always a bignum (tag 2 or 3), whatever its size.
//   - []byte is a byte string: nil stays nil, empty stays empty.
//   - Maps may have any comparable key type that CBOR can encode, such as
//     integers or structs.
//   - Strings are written as they are, even when not valid UTF-8, and decode
//     back byte for byte.
//   - Arrays may have up to [CBORMaxElements] elements, maps as many pairs,
//     and they nest 256 deep: decoding refuses more, so that a small
//     payload cannot make the decoder allocate without bound (each element
//     of a []any takes 16 bytes, each pair of a map[any]any more).
//
// Decoding into an interface value (any) gives: int64 for integers, or
// *big.Int when they do not fit in an int64 (and for bignums); float64 for
// floats of every width; string; []byte; bool; nil; time.Time for tagged
// times; []any for arrays; and map[any]any for maps, so that maps with
// non-string keys decode too. This differs from [JSON], whose maps decode to
// map[string]any and numbers to float64.
//
// CBOR is safe for concurrent use. Its failures are *[Error] values.
var CBOR = newCBOR()

// CBORMaxElements is the most elements of one array, or pairs of one map,
// that [CBOR] decodes: 16 Mi, so that a []any of that many elements takes
// 256 MiB, the default size limit of a farm's messages.
const CBORMaxElements = 1 << 24

// cborSerializer implements [CBOR]. Its modes are built once and are
// immutable.
type cborSerializer struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

var _ Serializer = CBOR

// cborEncOptions are the encoding options of [CBOR].
func cborEncOptions() cbor.EncOptions {
	return cbor.EncOptions{
		ShortestFloat: cbor.ShortestFloatNone,
		NaNConvert:    cbor.NaNConvertNone,
		InfConvert:    cbor.InfConvertNone,
		BigIntConvert: cbor.BigIntConvertNone,
		Time:          cbor.TimeRFC3339Nano,
		TimeTag:       cbor.EncTagRequired,
		NilContainers: cbor.NilContainerAsNull,
	}
}

// cborDecOptions are the decoding options of [CBOR].
func cborDecOptions() cbor.DecOptions {
	return cbor.DecOptions{
		MaxNestedLevels:  CBORMaxNestedLevels,
		MaxArrayElements: CBORMaxElements,
		MaxMapPairs:      CBORMaxElements,
		IntDec:           cbor.IntDecConvertSignedOrBigInt,
		BigIntDec:        cbor.BigIntDecodePointer,
		TimeTagToAny:     cbor.TimeTagToTime,
		UTF8:             cbor.UTF8DecodeInvalid,
	}
}

// newCBOR builds the modes of [CBOR]. The options are constants, so an
// error is a programming mistake caught by the package's tests.
func newCBOR() cborSerializer {
	enc, err := cborEncOptions().EncMode()
	if err != nil {
		panic("serializer: cbor encoding options: " + err.Error())
	}
	dec, err := cborDecOptions().DecMode()
	if err != nil {
		panic("serializer: cbor decoding options: " + err.Error())
	}
	return cborSerializer{enc: enc, dec: dec}
}

// Name returns "cbor".
func (cborSerializer) Name() string { return "cbor" }

// Marshal encodes v as CBOR. A value nested deeper than
// CBORMaxNestedLevels (one that contains itself) is an error.
func (s cborSerializer) Marshal(v any) ([]byte, error) {
	if err := checkDepth(v); err != nil {
		return nil, wrap(s.Name(), OpMarshal, v, err)
	}
	b, err := s.enc.Marshal(v)
	if err != nil {
		return nil, wrap(s.Name(), OpMarshal, v, err)
	}
	return b, nil
}

// Unmarshal decodes the single CBOR data item in data into the value v
// points to. Trailing bytes are an error.
func (s cborSerializer) Unmarshal(data []byte, v any) error {
	return wrap(s.Name(), OpUnmarshal, v, s.dec.Unmarshal(data, v))
}
