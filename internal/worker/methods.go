package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime/debug"
	"sort"
	"sync"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// Methods maps method names to plain Go functions; see plugin.Methods.
type Methods map[string]any

var (
	ctxType   = reflect.TypeFor[context.Context]()
	errorType = reflect.TypeFor[error]()
)

// method is one registered function with its shape worked out once.
type method struct {
	name   string
	fn     reflect.Value
	hasCtx bool
	params []reflect.Type // without the context
	// argsType, when there are fixed parameters, is a struct of them: a
	// call's decoded arguments live in one (see args.go).
	argsType  reflect.Type
	plainArgs bool      // a struct of argsType may be reused: see plainType
	boxes     sync.Pool // of *argBox, when plainArgs
	variadic  bool
	hasResult bool
	hasErr    bool
	signature string
}

// Validate checks every function's shape and returns an error naming each
// method that is not a valid worker function. Serve runs it at start-up.
func Validate(methods Methods) error {
	_, err := compile(methods)
	return err
}

func compile(methods Methods) (map[string]*method, error) {
	if len(methods) == 0 {
		return nil, errors.New("plugin: no methods to serve")
	}
	names := make([]string, 0, len(methods))
	for name := range methods {
		names = append(names, name)
	}
	sort.Strings(names)
	out := make(map[string]*method, len(methods))
	var errs []error
	for _, name := range names {
		m, err := newMethod(name, methods[name])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out[name] = m
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func newMethod(name string, fn any) (*method, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("plugin: method %q: %s", name, fmt.Sprintf(format, a...))
	}
	if name == "" {
		return nil, bad("empty method name")
	}
	if fn == nil {
		return nil, bad("nil function")
	}
	v := reflect.ValueOf(fn)
	t := v.Type()
	if t.Kind() != reflect.Func {
		return nil, bad("%s is not a function", t)
	}
	if v.IsNil() {
		return nil, bad("nil function")
	}
	m := &method{name: name, fn: v, variadic: t.IsVariadic(), signature: t.String()}
	for i := 0; i < t.NumIn(); i++ {
		p := t.In(i)
		if i == 0 && p == ctxType {
			m.hasCtx = true
			continue
		}
		if p == ctxType {
			return nil, bad("%s: context.Context must be the first parameter", t)
		}
		if m.variadic && i == t.NumIn()-1 {
			p = p.Elem()
		}
		switch p.Kind() {
		case reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return nil, bad("%s: parameter %d of type %s cannot be decoded", t, i+1, p)
		}
		m.params = append(m.params, p)
	}
	switch t.NumOut() {
	case 0:
	case 1:
		if t.Out(0) == errorType {
			m.hasErr = true
		} else {
			m.hasResult = true
		}
	case 2:
		if t.Out(1) != errorType || t.Out(0) == errorType {
			return nil, bad("%s: results must be (), (T), (error) or (T, error)", t)
		}
		m.hasResult, m.hasErr = true, true
	default:
		return nil, bad("%s: results must be (), (T), (error) or (T, error)", t)
	}
	if fixed := m.fixedParams(); fixed >= 1 {
		fields := make([]reflect.StructField, fixed)
		for i, p := range m.params[:fixed] {
			fields[i] = reflect.StructField{Name: fmt.Sprintf("A%d", i), Type: p}
		}
		m.argsType = reflect.StructOf(fields)
		m.plainArgs = plainType(m.argsType)
	}
	if m.hasResult {
		switch k := t.Out(0).Kind(); k {
		case reflect.Chan, reflect.Func, reflect.UnsafePointer:
			return nil, bad("%s: result of type %s cannot be encoded", t, t.Out(0))
		}
	}
	return m, nil
}

// fixedParams is the number of parameters before the variadic one, if any.
func (m *method) fixedParams() int {
	if m.variadic {
		return len(m.params) - 1
	}
	return len(m.params)
}

// call decodes args, runs the function and encodes its result. It never
// panics: a panic in the function becomes a PANIC error.
func (m *method) call(ctx context.Context, ser serializer.Serializer, args [][]byte) (result []byte, perr *workerpb.Error) {
	result, _, _, perr = m.callInto(ctx, ser, callArgs{args: args}, nil)
	return result, perr
}

// callArgs are a call's encoded arguments: raw has bit i set when args[i]
// is a byte slice as it is (workerpb.Call.raw_args); rawResult says the
// host reads a byte-slice result as it is.
type callArgs struct {
	args      [][]byte
	raw       uint64
	rawResult bool
}

// bytesType is the type of a byte slice, which raw arguments and results
// carry as they are.
var bytesType = reflect.TypeFor[[]byte]()

// callInto is call that encodes a small result into dst's room when the
// serializer is a [serializer.Appender]; appended reports whether it did, so
// that result is dst (or dst grown), which the caller owns. Otherwise result
// is the serializer's Marshal's, which may be shared (a custom serializer may
// return its input), or, with isRaw, the function's own []byte result.
func (m *method) callInto(ctx context.Context, ser serializer.Serializer, ca callArgs, dst []byte) (result []byte, appended, isRaw bool, perr *workerpb.Error) {
	args := ca.args
	fixed := m.fixedParams()
	if len(args) < fixed || (!m.variadic && len(args) != fixed) {
		want := fmt.Sprintf("%d", fixed)
		if m.variadic {
			want = fmt.Sprintf("at least %d", fixed)
		}
		return nil, false, false, &workerpb.Error{
			Code:    workerpb.Error_BAD_ARGUMENTS,
			Type:    "arguments",
			Message: fmt.Sprintf("%s takes %s argument(s), got %d", m.signature, want, len(args)),
		}
	}
	var inBuf [6]reflect.Value
	in := inBuf[:0]
	if m.hasCtx {
		in = append(in, reflect.ValueOf(ctx))
	}
	box := m.reusedArgs(ser)
	var fresh reflect.Value // the arguments' struct when box is nil
	if box == nil && m.argsType != nil {
		fresh = reflect.New(m.argsType).Elem()
	}
	for i, a := range args {
		var ptr any // where argument i is decoded
		var val reflect.Value
		switch {
		case i < fixed && box != nil:
			ptr, val = box.ptrs[i], box.fields[i]
		case i < fixed:
			val = fresh.Field(i)
			ptr = val.Addr().Interface()
		default:
			pv := reflect.New(m.params[len(m.params)-1])
			ptr, val = pv.Interface(), pv.Elem()
		}
		if err := decodeArg(ser, a, i, ca.raw, ptr, val); err != nil {
			// The message first: err may refer to the box's memory.
			perr := &workerpb.Error{
				Code:    workerpb.Error_BAD_ARGUMENTS,
				Type:    "arguments",
				Message: fmt.Sprintf("argument %d of %s: %v", i+1, m.signature, err),
			}
			m.release(box)
			return nil, false, false, perr
		}
		in = append(in, val)
	}
	out, perr := m.invoke(in)
	m.release(box)
	if perr != nil {
		return nil, false, false, perr
	}
	if m.hasErr {
		if errv := out[len(out)-1]; !errv.IsNil() {
			return nil, false, false, encodeError(ctx, ser, errv.Interface().(error))
		}
	}
	if !m.hasResult {
		return nil, false, false, nil
	}
	if ca.rawResult && out[0].Type() == bytesType && out[0].Len() > 0 {
		// A nil or empty slice goes through the serializer, which tells
		// them apart.
		return out[0].Bytes(), false, true, nil
	}
	v := out[0].Interface()
	if ap, ok := ser.(serializer.Appender); ok {
		if b, ok := ap.AppendSmall(dst[:0], v); ok {
			return b, true, false, nil
		}
	}
	b, err := ser.Marshal(v)
	if err != nil {
		return nil, false, false, &workerpb.Error{
			Code:    workerpb.Error_BAD_RESULT,
			Type:    "result",
			Message: fmt.Sprintf("result of %s: %v", m.signature, err),
		}
	}
	return b, false, false, nil
}

// decodeArg decodes argument i, a, into ptr (val is what it points to). A
// raw byte slice goes as it is into a []byte parameter; any other
// parameter gets what the serializer's encoding of the slice decodes to,
// as it would without raw arguments.
func decodeArg(ser serializer.Serializer, a []byte, i int, raw uint64, ptr any, val reflect.Value) error {
	if i >= 64 || raw&(1<<i) == 0 {
		return ser.Unmarshal(a, ptr)
	}
	if val.Type() == bytesType {
		val.SetBytes(a)
		return nil
	}
	enc, err := ser.Marshal(a)
	if err != nil {
		return err
	}
	return ser.Unmarshal(enc, ptr)
}

func (m *method) invoke(in []reflect.Value) (out []reflect.Value, perr *workerpb.Error) {
	defer func() {
		if r := recover(); r != nil {
			perr = &workerpb.Error{
				Code:    workerpb.Error_PANIC,
				Type:    "panic",
				Message: fmt.Sprint(r),
				Stack:   string(debug.Stack()),
			}
		}
	}()
	return m.fn.Call(in), nil
}

// encodeError turns a function's error into its wire form: type name,
// message, exported fields as details, permanent flag.
func encodeError(ctx context.Context, ser serializer.Serializer, err error) *workerpb.Error {
	pe := &workerpb.Error{Code: workerpb.Error_APPLICATION, Message: err.Error()}
	var perm *permanentError
	if errors.As(err, &perm) {
		pe.Permanent = true
		err = perm.err
	}
	pe.Type = reflect.TypeOf(err).String()
	if ctx.Err() != nil && (errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		pe.Code = workerpb.Error_CANCELED
	}
	if hasExportedFields(reflect.TypeOf(err)) {
		if b, merr := ser.Marshal(err); merr == nil {
			pe.Details = b
		}
	}
	return pe
}

func hasExportedFields(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			return true
		}
	}
	return false
}
