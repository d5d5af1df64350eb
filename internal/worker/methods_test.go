package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"github.com/workestrator/workestrator/pkg/serializer"
)

func TestValidateShapes(t *testing.T) {
	good := Methods{
		"none":     func() {},
		"value":    func(a, b int) int { return a + b },
		"err":      func(string) error { return nil },
		"both":     func(ctx context.Context, s []byte) (string, error) { return "", nil },
		"ctxonly":  func(context.Context) {},
		"variadic": func(prefix string, xs ...int) int { return len(xs) },
		"any":      func(v any) any { return v },
	}
	if err := Validate(good); err != nil {
		t.Fatalf("Validate(good) = %v", err)
	}
	bad := map[string]any{
		"notfunc":    42,
		"nilfunc":    (func())(nil),
		"tworesults": func() (int, int) { return 0, 0 },
		//lint:ignore ST1008 the bad shape under test
		"errfirst":   func() (error, int) { return nil, 0 },
		"three":      func() (int, int, error) { return 0, 0, nil },
		"ctxlater":   func(int, context.Context) {},
		"chanparam":  func(chan int) {},
		"funcresult": func() func() { return nil },
	}
	for name, fn := range bad {
		err := Validate(Methods{name: fn})
		if err == nil || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("%s: Validate = %v, want an error naming it", name, err)
		}
	}
	if err := Validate(Methods{}); err == nil {
		t.Error("no methods accepted")
	}
	if err := Validate(Methods{"": func() {}}); err == nil {
		t.Error("empty name accepted")
	}
}

func call(t *testing.T, fn any, args ...any) ([]byte, *workerpb.Error) {
	t.Helper()
	m, err := newMethod("m", fn)
	if err != nil {
		t.Fatal(err)
	}
	var enc [][]byte
	for _, a := range args {
		b, _ := serializer.JSON.Marshal(a)
		enc = append(enc, b)
	}
	return m.call(context.Background(), serializer.JSON, enc)
}

func TestMethodCall(t *testing.T) {
	if r, e := call(t, func(a, b int) int { return a + b }, 2, 3); e != nil || string(r) != "5" {
		t.Fatalf("add = %s, %v", r, e)
	}
	if r, e := call(t, func(p string, xs ...int) int { return len(xs) }, "p", 1, 2, 3); e != nil || string(r) != "3" {
		t.Fatalf("variadic = %s, %v", r, e)
	}
	type point struct{ X, Y float64 }
	join := func(ctx context.Context, sep string, p point, n int, xs ...string) string {
		return fmt.Sprintf("%v %v %v %v", sep, p.X+p.Y, n, strings.Join(xs, sep))
	}
	if r, e := call(t, join, "-", point{1, 2}, 7, "a", "b"); e != nil || string(r) != `"- 3 7 a-b"` {
		t.Fatalf("three fixed and variadic = %s, %v", r, e)
	}
	if _, e := call(t, join, "-", point{1, 2}, "x"); e == nil || e.Code != workerpb.Error_BAD_ARGUMENTS || !strings.Contains(e.Message, "argument 3") {
		t.Fatalf("bad third argument: %v", e)
	}
	if _, e := call(t, func(p string, xs ...int) int { return len(xs) }); e == nil || e.Code != workerpb.Error_BAD_ARGUMENTS {
		t.Fatalf("variadic without its fixed argument: %v", e)
	}
	if r, e := call(t, func() {}); e != nil || r != nil {
		t.Fatalf("no result = %s, %v", r, e)
	}
	if _, e := call(t, func(a int) int { return a }, "x"); e == nil || e.Code != workerpb.Error_BAD_ARGUMENTS || !strings.Contains(e.Message, "argument 1") {
		t.Fatalf("bad type: %v", e)
	}
	if _, e := call(t, func() int { panic("boom") }); e == nil || e.Code != workerpb.Error_PANIC || e.Message != "boom" || e.Stack == "" {
		t.Fatalf("panic: %v", e)
	}
	if _, e := call(t, func() error { return Permanent(errors.New("no")) }); e == nil || !e.Permanent || e.Type != "*errors.errorString" {
		t.Fatalf("permanent: %v", e)
	}
	if Permanent(nil) != nil {
		t.Fatal("Permanent(nil) != nil")
	}
}

// Decoded arguments never carry anything over from an earlier call: a
// field missing from the JSON is zero, and a slice the function kept is
// not written by the next call.
func TestMethodCallFreshArguments(t *testing.T) {
	type point struct{ X, Y float64 }
	var kept [][]int
	fn := func(p point, xs []int, m map[string]int) string {
		kept = append(kept, xs)
		return fmt.Sprintf("%v %v %v", p, xs, m)
	}
	m, err := newMethod("f", fn)
	if err != nil {
		t.Fatal(err)
	}
	calls := []struct{ args, want string }{
		{`{"X":1,"Y":2}|[1,2,3]|{"a":1}`, `"{1 2} [1 2 3] map[a:1]"`},
		{`{}|[9]|{"b":2}`, `"{0 0} [9] map[b:2]"`},
		{`{"Y":5}|null|null`, `"{0 5} [] map[]"`},
	}
	for _, c := range calls {
		var args [][]byte
		for a := range strings.SplitSeq(c.args, "|") {
			args = append(args, []byte(a))
		}
		r, e := m.call(context.Background(), serializer.JSON, args)
		if e != nil || string(r) != c.want {
			t.Errorf("f(%s) = %s, %v; want %s", c.args, r, e, c.want)
		}
	}
	if fmt.Sprint(kept) != "[[1 2 3] [9] []]" {
		t.Errorf("slices kept by the function changed: %v", kept)
	}
	// A bad argument leaves nothing behind either.
	if _, e := m.call(context.Background(), serializer.JSON, [][]byte{[]byte(`{"X":7}`), []byte(`"x"`), []byte(`{}`)}); e == nil {
		t.Fatal("bad second argument accepted")
	}
	if r, _ := m.call(context.Background(), serializer.JSON, [][]byte{[]byte(`{}`), []byte(`[]`), []byte(`{}`)}); string(r) != `"{0 0} [] map[]"` {
		t.Errorf("after a bad call: %s", r)
	}
}

// selfRef keeps the address it was decoded into, as an UnmarshalJSON may.
type selfRef struct {
	Name string
	self *selfRef
}

func (s *selfRef) UnmarshalJSON(b []byte) error {
	s.self = s
	return json.Unmarshal(b, &s.Name)
}

// A value that keeps the address it was decoded into keeps its own data:
// such a call decodes into a struct of its own.
func TestMethodCallSelfReference(t *testing.T) {
	var kept []selfRef
	m, err := newMethod("f", func(a, b selfRef) int { kept = append(kept, a, b); return 0 })
	if err != nil {
		t.Fatal(err)
	}
	for _, names := range [][2]string{{"a", "b"}, {"c", "d"}} {
		args := [][]byte{[]byte(strconv.Quote(names[0])), []byte(strconv.Quote(names[1]))}
		if _, e := m.call(context.Background(), serializer.JSON, args); e != nil {
			t.Fatal(e)
		}
	}
	for i, want := range []string{"a", "b", "c", "d"} {
		if kept[i].Name != want || kept[i].self.Name != want {
			t.Errorf("argument %d: %q, through its own pointer %q; want %q", i, kept[i].Name, kept[i].self.Name, want)
		}
	}
}

func TestPlainType(t *testing.T) {
	type embeds struct {
		selfRef
		N int
	}
	for _, c := range []struct {
		v     any
		plain bool
	}{
		{0, true}, {"", true}, {struct{ X, Y float64 }{}, true}, {[2]int{}, true},
		{[]time.Time{}, true}, {(*time.Time)(nil), true}, {map[string]selfRef{}, true}, {[]any{}, true},
		{time.Time{}, false}, {struct{ T time.Time }{}, false}, {[1]selfRef{}, false}, {embeds{}, false},
	} {
		if got := plainType(reflect.TypeOf(c.v)); got != c.plain {
			t.Errorf("plainType(%T) = %v, want %v", c.v, got, c.plain)
		}
	}
}

// BenchmarkMethodCall is the worker's part of a call between the frame and
// the wire: decode three JSON arguments, call the function, encode its
// result.
func BenchmarkMethodCall(b *testing.B) {
	m, err := newMethod("add", func(a, b, c int) int { return a + b + c })
	if err != nil {
		b.Fatal(err)
	}
	args := [][]byte{[]byte("1"), []byte("2"), []byte("12345")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, e := m.call(ctx, serializer.JSON, args); e != nil {
			b.Fatal(e)
		}
	}
}
