package serializer_test

import (
	"encoding/binary"
	"errors"
	"strings"
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

// A value that contains itself is an error of Marshal, not a stack
// overflow that ends the process; what the encoder does not walk (fields
// tagged "-", types with their own MarshalCBOR) is not walked either.
func TestCBORRefusesCycles(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	type node struct {
		Next *node
		V    int
	}
	n := &node{V: 1}
	n.Next = n
	s := []any{nil}
	s[0] = s
	var p any
	p = &p
	type inner struct{ M map[string]any }
	type outer struct{ inner }
	e := map[string]any{}
	e["self"] = outer{inner{e}}
	for name, v := range map[string]any{"map": m, "list": n, "slice": s, "pointer": &p, "embedded": e} {
		_, err := serializer.CBOR.Marshal(v)
		var se *serializer.Error
		if !errors.As(err, &se) || !strings.Contains(err.Error(), "a value that contains itself?") {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	// As deep as the decoder takes: encoded and decoded back.
	ok := any(1)
	for range serializer.CBORMaxNestedLevels - 1 {
		ok = []any{ok}
	}
	b, err := serializer.CBOR.Marshal(ok)
	if err != nil {
		t.Fatal(err)
	}
	var back any
	if err := serializer.CBOR.Unmarshal(b, &back); err != nil {
		t.Fatalf("decoding %d levels: %v", serializer.CBORMaxNestedLevels, err)
	}
	// A parent pointer the encoder skips.
	type tree struct {
		Parent   *tree `cbor:"-"`
		Children []*tree
	}
	root := &tree{}
	root.Children = []*tree{{Parent: root}}
	if _, err := serializer.CBOR.Marshal(root); err != nil {
		t.Errorf("a tree with a skipped parent pointer: %v", err)
	}
	// A type that marshals itself.
	self := &selfMarshaled{}
	self.Me = self
	if _, err := serializer.CBOR.Marshal(self); err != nil {
		t.Errorf("a MarshalCBOR type: %v", err)
	}
}

// selfMarshaled holds itself but encodes as a fixed value.
type selfMarshaled struct{ Me *selfMarshaled }

func (selfMarshaled) MarshalCBOR() ([]byte, error) { return []byte{0x01}, nil }
