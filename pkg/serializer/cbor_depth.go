package serializer

import (
	"fmt"
	"reflect"
	"sync"
)

// CBORMaxNestedLevels is the deepest nesting of arrays, maps and structs
// that [CBOR] encodes and decodes. A value nested deeper, a cyclic one
// above all (a map that holds itself), is refused with an error instead
// of exhausting the encoder's stack, which would end the process.
const CBORMaxNestedLevels = 256

// errTooDeep is the error of a value nested deeper than CBORMaxNestedLevels.
var errTooDeep = fmt.Errorf("nested deeper than %d levels (a value that contains itself?)", CBORMaxNestedLevels)

// mayNest caches, by type, whether a value of the type can nest without a
// bound known from its type: it holds an interface, or its type refers to
// itself through a pointer, map or slice.
var mayNest sync.Map // reflect.Type → bool

// checkDepth reports errTooDeep when v nests deeper than
// CBORMaxNestedLevels. Values of a type that cannot nest deeper than its
// own definition are not walked.
func checkDepth(v any) error {
	switch v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64,
		float32, float64, string, []byte, []int, []float64, []string:
		return nil
	}
	rv := reflect.ValueOf(v)
	if !typeMayNest(rv.Type()) {
		return nil
	}
	if !withinDepth(rv, 0) {
		return errTooDeep
	}
	return nil
}

func typeMayNest(t reflect.Type) bool {
	if v, ok := mayNest.Load(t); ok {
		return v.(bool)
	}
	r := typeNests(t, map[reflect.Type]bool{})
	mayNest.Store(t, r)
	return r
}

// typeNests reports whether t holds an interface or reaches itself;
// onPath holds the types being looked at.
func typeNests(t reflect.Type, onPath map[reflect.Type]bool) bool {
	if onPath[t] {
		return true
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
			if f := t.Field(i); f.IsExported() && typeNests(f.Type, onPath) {
				return true
			}
		}
	}
	return false
}

// withinDepth reports whether v nests at most CBORMaxNestedLevels deep
// from depth, counting its arrays, maps and structs.
func withinDepth(v reflect.Value, depth int) bool {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return true
		}
		v = v.Elem()
	}
	if !typeMayNest(v.Type()) {
		return true // bounded by its type, which encodes as written
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		if depth++; depth > CBORMaxNestedLevels {
			return false
		}
		for i := range v.Len() {
			if !withinDepth(v.Index(i), depth) {
				return false
			}
		}
	case reflect.Map:
		if depth++; depth > CBORMaxNestedLevels {
			return false
		}
		it := v.MapRange()
		for it.Next() {
			if !withinDepth(it.Key(), depth) || !withinDepth(it.Value(), depth) {
				return false
			}
		}
	case reflect.Struct:
		if depth++; depth > CBORMaxNestedLevels {
			return false
		}
		t := v.Type()
		for i := range v.NumField() {
			if t.Field(i).IsExported() && !withinDepth(v.Field(i), depth) {
				return false
			}
		}
	}
	return true
}
