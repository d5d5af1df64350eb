package serializer_test

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/serializer"
)

var update = flag.Bool("update", false, "rewrite TABLE.md from the round-trip cases")

// outcome is what a round trip does to a value.
type outcome int

const (
	kept    outcome = iota // decodes to a value equal to the input
	changed                // decodes without error to a different value (want)
	refused                // Marshal or Unmarshal (op) returns an *serializer.Error
)

// expect is the claim one TABLE.md cell makes.
type expect struct {
	outcome outcome
	note    string // text shown in the cell after the verdict
	want    any    // for changed: the decoded value
	op      string // for refused: serializer.OpMarshal or serializer.OpUnmarshal
}

func keep(note string) expect             { return expect{outcome: kept, note: note} }
func change(want any, note string) expect { return expect{outcome: changed, want: want, note: note} }
func refuse(op, note string) expect       { return expect{outcome: refused, op: op, note: note} }

// roundTripCase is one row of TABLE.md.
type roundTripCase struct {
	name string     // the "Go value" column
	in   any        // the value given to Marshal
	into func() any // a pointer to decode into; nil means a new value of in's type
	json expect
	cbor expect
}

type point struct{ X, Y int }

type node struct {
	Name   string
	Tags   []string
	Attrs  map[string]int
	Scores []float64
	Next   *node
}

type withHidden struct {
	Shown  int
	hidden int
}

var (
	when    = time.Date(2024, 3, 5, 13, 14, 15, 123456789, time.FixedZone("CET", 3600))
	huge, _ = new(big.Int).SetString("-123456789012345678901234567890", 10)
	negZero = math.Copysign(0, -1)
)

func cases() []roundTripCase {
	into := func(v any) func() any { return func() any { return v } }
	return []roundTripCase{
		{name: "`float64` NaN", in: math.NaN(),
			json: refuse(serializer.OpMarshal, "unsupported value"),
			cbor: keep("")},
		{name: "`float64` +Inf", in: math.Inf(1),
			json: refuse(serializer.OpMarshal, "unsupported value"),
			cbor: keep("")},
		{name: "`float64` -Inf", in: math.Inf(-1),
			json: refuse(serializer.OpMarshal, "unsupported value"),
			cbor: keep("")},
		{name: "`float64` -0", in: negZero,
			json: keep("written as `-0`"),
			cbor: keep("")},
		{name: "`float64` max", in: math.MaxFloat64,
			json: keep(""),
			cbor: keep("")},
		{name: "`int64` max", in: int64(math.MaxInt64),
			json: keep("into `int64`"),
			cbor: keep("")},
		{name: "`uint64` max", in: uint64(math.MaxUint64),
			json: keep("into `uint64`"),
			cbor: keep("")},
		{name: "`int64` max, into `any`", in: int64(math.MaxInt64), into: into(new(any)),
			json: change(float64(math.MaxInt64), "`float64` 2^63: precision lost"),
			cbor: keep("`int64`")},
		{name: "`uint64` max, into `any`", in: uint64(math.MaxUint64), into: into(new(any)),
			json: change(float64(math.MaxUint64), "`float64` 2^64: precision lost"),
			cbor: change(new(big.Int).SetUint64(math.MaxUint64), "`*big.Int`: does not fit in `int64`")},
		{name: "`*big.Int` beyond 64 bits", in: huge, into: into(new(*big.Int)),
			json: keep("written as a JSON number"),
			cbor: keep("bignum, tag 3")},
		{name: "`*big.Int`, into `any`", in: huge, into: into(new(any)),
			json: change(-1.2345678901234568e+29, "`float64`: precision lost"),
			cbor: keep("`*big.Int`")},
		{name: "`[]any{1, \"a\", 1.5}` into `[]any`", in: []any{1, "a", 1.5}, into: into(new([]any)),
			json: change([]any{float64(1), "a", 1.5}, "integers become `float64`"),
			cbor: change([]any{int64(1), "a", 1.5}, "integers become `int64`")},
		{name: "`[]byte`", in: []byte{0, 1, 2, 0xfe, 0xff},
			json: keep("base64 string"),
			cbor: keep("byte string")},
		{name: "`[]byte` nil", in: []byte(nil),
			json: keep("`null`"),
			cbor: keep("`null`")},
		{name: "`[]byte` empty", in: []byte{},
			json: keep("`\"\"`"),
			cbor: keep("empty byte string")},
		{name: "`[]byte`, into `any`", in: []byte("hi"), into: into(new(any)),
			json: change("aGk=", "the base64 `string`"),
			cbor: keep("`[]byte`")},
		{name: "`time.Time`, ns, zone CET+01:00", in: when,
			json: keep("RFC 3339 with ns and offset; `Location` becomes an unnamed fixed zone"),
			cbor: keep("tag 0, RFC 3339 with ns and offset; `Location` becomes an unnamed fixed zone")},
		{name: "`time.Time` zero", in: time.Time{},
			json: keep(""),
			cbor: keep("written as `null`")},
		{name: "`time.Time`, into `any`", in: when, into: into(new(any)),
			json: change("2024-03-05T13:14:15.123456789+01:00", "`string`"),
			cbor: keep("`time.Time`")},
		{name: "`map[int]string`", in: map[int]string{-1: "a", 2: "b"},
			json: keep("keys written as strings"),
			cbor: keep("")},
		{name: "`map[point]string`, struct keys", in: map[point]string{{1, 2}: "a"},
			json: refuse(serializer.OpMarshal, "unsupported key type"),
			cbor: keep("")},
		{name: "`map[int]string`, into `any`", in: map[int]string{1: "a"}, into: into(new(any)),
			json: change(map[string]any{"1": "a"}, "`map[string]any`, key `\"1\"`"),
			cbor: change(map[any]any{int64(1): "a"}, "`map[any]any`, key `int64(1)`")},
		{name: "`map[string]any`, into `any`", in: map[string]any{"k": "v"}, into: into(new(any)),
			json: keep(""),
			cbor: change(map[any]any{"k": "v"}, "`map[any]any`")},
		{name: "`map[string]int` nil", in: map[string]int(nil),
			json: keep("`null`"),
			cbor: keep("`null`")},
		{name: "`*T` nil", in: (*node)(nil),
			json: keep("`null`"),
			cbor: keep("`null`")},
		{name: "`any` nil", in: nil, into: into(new(any)),
			json: keep("`null`"),
			cbor: keep("`null`")},
		{name: "`[]string` nil", in: []string(nil),
			json: keep("`null`"),
			cbor: keep("`null`")},
		{name: "`[]string` empty", in: []string{},
			json: keep(""),
			cbor: keep("")},
		{name: "nested struct with slices, maps, pointers", in: node{
			Name: "a", Tags: []string{"x", "y"}, Attrs: map[string]int{"n": 1}, Scores: []float64{0.5},
			Next: &node{Name: "b", Tags: []string{}, Next: &node{Name: "c"}},
		},
			json: keep(""),
			cbor: keep("")},
		{name: "struct with an unexported field", in: withHidden{Shown: 1, hidden: 2},
			json: change(withHidden{Shown: 1}, "unexported fields are dropped"),
			cbor: change(withHidden{Shown: 1}, "unexported fields are dropped")},
		{name: "`string`, unicode", in: "héllo, 世界 🌍 \u0000 \u2028 <&>",
			json: keep(""),
			cbor: keep("")},
		{name: "`string`, invalid UTF-8", in: "a\xffb",
			json: change("a\uFFFDb", "bad bytes become U+FFFD"),
			cbor: keep("")},
		{name: "`chan int`", in: make(chan int),
			json: refuse(serializer.OpMarshal, "unsupported type"),
			cbor: refuse(serializer.OpMarshal, "unsupported type")},
	}
}

// same reports whether got and want are the same value: floats bit for bit
// (NaN equals NaN, -0 differs from 0), times by instant and UTC offset,
// big.Ints by value, and everything else by reflect.DeepEqual.
func same(got, want any) bool {
	switch w := want.(type) {
	case float64:
		g, ok := got.(float64)
		return ok && (math.Float64bits(g) == math.Float64bits(w) || math.IsNaN(g) && math.IsNaN(w))
	case time.Time:
		g, ok := got.(time.Time)
		if !ok || !g.Equal(w) {
			return false
		}
		_, gotOff := g.Zone()
		_, wantOff := w.Zone()
		return gotOff == wantOff
	case *big.Int:
		g, ok := got.(*big.Int)
		return ok && (g == nil) == (w == nil) && (w == nil || g.Cmp(w) == 0)
	}
	return reflect.DeepEqual(got, want)
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range cases() {
		for _, sc := range []struct {
			s   serializer.Serializer
			exp expect
		}{{serializer.JSON, tc.json}, {serializer.CBOR, tc.cbor}} {
			t.Run(sc.s.Name()+"/"+tc.name, func(t *testing.T) {
				checkRoundTrip(t, sc.s, tc, sc.exp)
			})
		}
	}
}

func checkRoundTrip(t *testing.T, s serializer.Serializer, tc roundTripCase, exp expect) {
	var dst any
	if tc.into != nil {
		dst = tc.into()
	} else {
		dst = reflect.New(reflect.TypeOf(tc.in)).Interface()
	}
	data, err := s.Marshal(tc.in)
	if err == nil {
		err = s.Unmarshal(data, dst)
	}
	if exp.outcome == refused {
		var se *serializer.Error
		if !errors.As(err, &se) {
			t.Fatalf("err = %v, want a *serializer.Error", err)
		}
		if se.Op != exp.op || se.Serializer != s.Name() || errors.Unwrap(err) == nil {
			t.Fatalf("err = %#v, want op %q from %q with a cause", se, exp.op, s.Name())
		}
		return
	}
	if err != nil {
		t.Fatalf("round trip failed: %v", err)
	}
	got := reflect.ValueOf(dst).Elem().Interface()
	want := tc.in
	if exp.outcome == changed {
		want = exp.want
		if same(got, tc.in) {
			t.Errorf("got %#v, the input itself: the table says changed", got)
		}
	}
	if !same(got, want) {
		t.Errorf("got %#v (%T), want %#v (%T); encoded %q", got, got, want, want, data)
	}
}

// TestTable checks that TABLE.md is rendered from cases(); run
// go test -run TestTable -update to rewrite it.
func TestTable(t *testing.T) {
	var b strings.Builder
	b.WriteString("<!-- Generated from cases() in roundtrip_test.go by `go test -run TestTable -update`. Do not edit. -->\n\n")
	b.WriteString("# What survives a round trip\n\n")
	b.WriteString("Each row is a value given to `Marshal`, decoded with `Unmarshal` into a new value of the same type\n")
	b.WriteString("unless the row says \"into\" another type. **kept** means the decoded value equals the input\n")
	b.WriteString("(floats bit for bit, so NaN and -0 count; `time.Time` by instant and UTC offset; `*big.Int` by value;\n")
	b.WriteString("nil and empty slices and maps are told apart). **changed** means it decodes, to something else.\n")
	b.WriteString("**refused** means `Marshal` or `Unmarshal` returns a `*serializer.Error`.\n")
	b.WriteString("`TestRoundTrip` checks every cell.\n\n")
	b.WriteString("| Go value | JSON | CBOR |\n|---|---|---|\n")
	for _, tc := range cases() {
		fmt.Fprintf(&b, "| %s | %s | %s |\n", tc.name, cell(tc.json), cell(tc.cbor))
	}
	const path = "TABLE.md"
	if *update {
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	old, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v; run go test -run TestTable -update", err)
	}
	if string(old) != b.String() {
		t.Errorf("%s is stale; run go test -run TestTable -update. Want:\n%s", path, b.String())
	}
	// The README carries the same table.
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	rows := b.String()[strings.Index(b.String(), "| Go value |"):]
	if !strings.Contains(string(readme), rows) {
		t.Errorf("README.md's serializer table differs from %s; copy it from there", path)
	}
}

func cell(e expect) string {
	var s string
	switch e.outcome {
	case kept:
		s = "kept"
	case changed:
		s = "**changed**"
	case refused:
		s = "**refused** (" + e.op + " error)"
	}
	if e.note != "" {
		s += ": " + e.note
	}
	return strings.ReplaceAll(s, "|", `\|`)
}
