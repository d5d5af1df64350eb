package worker

import (
	"reflect"

	"github.com/workestrator/workestrator/pkg/serializer"
)

// argBox holds one call's fixed arguments: a struct of them, with a pointer
// to each field for the serializer and each field's Value for the call.
type argBox struct {
	v      reflect.Value
	ptrs   []any
	fields []reflect.Value
}

// reusedArgs returns a zeroed box for the fixed arguments of a call of m
// decoded with ser, reused from call to call, or nil when the call must
// decode into a struct of its own. A box is reused only when nothing
// decoded into it can keep a pointer to it: the arguments' types are plain
// and ser is a built-in serializer, which copies what it decodes. A custom
// serializer, or an UnmarshalJSON method, may keep the address it decodes
// into.
func (m *method) reusedArgs(ser serializer.Serializer) *argBox {
	if !m.plainArgs || (ser != serializer.JSON && ser != serializer.CBOR) {
		return nil
	}
	if b, ok := m.boxes.Get().(*argBox); ok {
		return b
	}
	v := reflect.New(m.argsType).Elem()
	b := &argBox{v: v, ptrs: make([]any, v.NumField()), fields: make([]reflect.Value, v.NumField())}
	for i := range b.ptrs {
		b.fields[i] = v.Field(i)
		b.ptrs[i] = b.fields[i].Addr().Interface()
	}
	return b
}

// release gives a reused box back to m once the call is over, zeroed so
// that nothing of the call stays reachable and the next call decodes into
// zero values.
func (m *method) release(b *argBox) {
	if b != nil {
		b.v.SetZero()
		m.boxes.Put(b)
	}
}

// plainType reports whether decoding into a value of type t stored in a
// reused struct is safe: no type stored inline in it (t itself, its
// struct fields and array elements, recursively) has methods, such as an
// UnmarshalJSON that could keep the address it decodes into. What a slice,
// map, pointer or interface refers to is allocated afresh by the decoder,
// since the struct is zero when a call starts.
func plainType(t reflect.Type) bool {
	if reflect.PointerTo(t).NumMethod() > 0 {
		return false
	}
	switch t.Kind() {
	case reflect.Struct:
		for i := range t.NumField() {
			if !plainType(t.Field(i).Type) {
				return false
			}
		}
	case reflect.Array:
		return plainType(t.Elem())
	}
	return true
}
