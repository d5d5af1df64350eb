package serializer

import (
	"encoding"
	"fmt"
	"iter"
	"maps"
	"reflect"
	"strings"
	"sync"

	"github.com/fxamacker/cbor/v2"
)

// CBORMaxNestedLevels is the deepest nesting of arrays, maps and structs
// that [CBOR] decodes.
const CBORMaxNestedLevels = 256

// cborMaxEncodeDepth bounds the levels (arrays, maps, structs, pointer and
// interface hops) that [CBOR] walks before it encodes a value: a deeper
// value, a cyclic one above all (a map that holds itself), is refused with
// an error instead of exhausting the encoder's stack, which would end the
// process. It is above CBORMaxNestedLevels: a value the decoder takes is
// never refused for its depth.
const cborMaxEncodeDepth = 4 * CBORMaxNestedLevels

// errTooDeep is the error of a value nested deeper than cborMaxEncodeDepth.
var errTooDeep = fmt.Errorf("nested deeper than %d levels (a value that contains itself?)", cborMaxEncodeDepth)

var (
	cborMarshaler   = reflect.TypeFor[cbor.Marshaler]()
	binaryMarshaler = reflect.TypeFor[encoding.BinaryMarshaler]()
)

// mayNest caches, by type, whether a value of the type can nest without a
// bound known from its type: it holds an interface, or its type refers to
// itself through a pointer, map or slice, in what the encoder writes.
var mayNest sync.Map // reflect.Type → bool

// checkDepth reports errTooDeep when v nests deeper than
// cborMaxEncodeDepth. Values of a type that cannot nest deeper than its
// own definition are not walked.
func checkDepth(v any) error {
	if !walkAny(v, 0) {
		return errTooDeep
	}
	return nil
}

// walkAny reports whether x, at depth, nests at most cborMaxEncodeDepth;
// the common dynamic types are walked without reflection.
func walkAny(x any, depth int) bool {
	switch t := x.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, string, []byte, []int, []int64, []float64, []string:
		return true
	case map[string]any:
		return walkAll(maps.Values(t), depth)
	case []any:
		// A plain loop: a slice's iterator costs as much as the check.
		if depth++; depth > cborMaxEncodeDepth {
			return false
		}
		for _, e := range t {
			if !walkAny(e, depth) {
				return false
			}
		}
		return true
	}
	rv := reflect.ValueOf(x)
	if !typeMayNest(rv.Type()) {
		return true
	}
	return withinDepth(rv, depth)
}

// walkAll reports whether the elements of a map at depth nest at most
// cborMaxEncodeDepth.
func walkAll(elems iter.Seq[any], depth int) bool {
	if depth++; depth > cborMaxEncodeDepth {
		return false
	}
	for e := range elems {
		if !walkAny(e, depth) {
			return false
		}
	}
	return true
}

func typeMayNest(t reflect.Type) bool {
	if v, ok := mayNest.Load(t); ok {
		return v.(bool)
	}
	r := typeNests(t, map[reflect.Type]bool{})
	mayNest.Store(t, r)
	return r
}

// marshals reports whether the encoder writes a value of t with its own
// method rather than from its elements or fields.
func marshals(t reflect.Type) bool {
	if t.Implements(cborMarshaler) || t.Implements(binaryMarshaler) {
		return true
	}
	p := reflect.PointerTo(t)
	return p.Implements(cborMarshaler) || p.Implements(binaryMarshaler)
}

// typeNests reports whether t holds an interface or reaches itself in
// what the encoder writes; onPath holds the types being looked at.
func typeNests(t reflect.Type, onPath map[reflect.Type]bool) bool {
	if onPath[t] {
		return true
	}
	if marshals(t) {
		return false
	}
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		onPath[t] = true
		defer delete(onPath, t)
		return typeNests(t.Elem(), onPath)
	case reflect.Map:
		onPath[t] = true
		defer delete(onPath, t)
		return typeNests(t.Key(), onPath) || typeNests(t.Elem(), onPath)
	case reflect.Struct:
		onPath[t] = true
		defer delete(onPath, t)
		for i := range t.NumField() {
			if f := t.Field(i); encoded(f) && typeNests(f.Type, onPath) {
				return true
			}
		}
	}
	return false
}

// encoded reports whether the encoder writes field f: exported or
// embedded, and not tagged "-" (cbor's tag, else json's).
func encoded(f reflect.StructField) bool {
	if !f.IsExported() && !f.Anonymous {
		return false
	}
	tag, ok := f.Tag.Lookup("cbor")
	if !ok {
		tag = f.Tag.Get("json")
	}
	name, _, _ := strings.Cut(tag, ",")
	return name != "-"
}

// withinDepth reports whether v nests at most cborMaxEncodeDepth deep
// from depth, counting its arrays, maps, structs, pointer and interface
// hops.
func withinDepth(v reflect.Value, depth int) bool {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() || marshals(v.Type()) {
			return true
		}
		if depth++; depth > cborMaxEncodeDepth {
			return false
		}
		v = v.Elem()
	}
	if !typeMayNest(v.Type()) {
		return true // bounded by its type
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if depth++; depth > cborMaxEncodeDepth {
			return false
		}
		for i := range v.Len() {
			if !withinDepth(v.Index(i), depth) {
				return false
			}
		}
	case reflect.Map:
		if depth++; depth > cborMaxEncodeDepth {
			return false
		}
		it := v.MapRange()
		for it.Next() {
			if !withinDepth(it.Key(), depth) || !withinDepth(it.Value(), depth) {
				return false
			}
		}
	case reflect.Struct:
		if depth++; depth > cborMaxEncodeDepth {
			return false
		}
		t := v.Type()
		for i := range v.NumField() {
			if encoded(t.Field(i)) && !withinDepth(v.Field(i), depth) {
				return false
			}
		}
	}
	return true
}
