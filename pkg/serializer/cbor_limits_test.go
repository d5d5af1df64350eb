package serializer_test

import (
	"encoding/binary"
	"testing"

	"github.com/workestrator/workestrator/pkg/serializer"
)

// An array header that announces more than CBORMaxElements elements is
// refused, into any as into a typed slice.
func TestCBORElementLimit(t *testing.T) {
	for _, n := range []uint32{serializer.CBORMaxElements + 1, 1<<31 - 1} {
		// Array of n elements (major type 4, 4-byte count), each a 0.
		b := binary.BigEndian.AppendUint32([]byte{0x9a}, n)
		b = append(b, make([]byte, serializer.CBORMaxElements+1)...)
		var v any
		if err := serializer.CBOR.Unmarshal(b, &v); err == nil {
			t.Fatalf("an array of %d elements decoded into any", n)
		}
		var s []int
		if err := serializer.CBOR.Unmarshal(b, &s); err == nil {
			t.Fatalf("an array of %d elements decoded into []int", n)
		}
		// A map header, likewise (major type 5).
		b[0] = 0xba
		var m map[any]any
		if err := serializer.CBOR.Unmarshal(b, &m); err == nil {
			t.Fatalf("a map of %d pairs decoded", n)
		}
	}
	// At the limit, it decodes.
	b := binary.BigEndian.AppendUint32([]byte{0x9a}, serializer.CBORMaxElements)
	b = append(b, make([]byte, serializer.CBORMaxElements)...)
	var s []int8
	if err := serializer.CBOR.Unmarshal(b, &s); err != nil || len(s) != serializer.CBORMaxElements {
		t.Fatalf("an array of CBORMaxElements: %d elements, %v", len(s), err)
	}
}
