package serializer

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// The fast paths must give exactly what encoding/json gives.

func checkMarshal(t *testing.T, v any) {
	t.Helper()
	want, werr := json.Marshal(v)
	got, gerr := JSON.Marshal(v)
	if (werr != nil) != (gerr != nil) || !bytes.Equal(got, want) {
		t.Errorf("Marshal(%#v) = %q, %v; encoding/json: %q, %v", v, got, gerr, want, werr)
	}
	// AppendSmall appends the same bytes after what dst holds, or leaves
	// dst as it was.
	dst := []byte("prefix")
	app, ok := Appender(JSON).AppendSmall(dst[:len(dst):len(dst)], v)
	if ok && !bytes.Equal(app, append(dst, want...)) || !ok && !bytes.Equal(app, dst) {
		t.Errorf("AppendSmall(%q, %#v) = %q, %v; encoding/json: %q", dst, v, app, ok, want)
	}
}

func checkUnmarshal[T any](t *testing.T, data string) {
	t.Helper()
	var want, got T
	werr := json.Unmarshal([]byte(data), &want)
	gerr := JSON.Unmarshal([]byte(data), &got)
	if (werr != nil) != (gerr != nil) || (werr == nil && !equalValues(got, want)) {
		t.Errorf("Unmarshal[%T](%q) = %v, %v; encoding/json: %v, %v", got, data, got, gerr, want, werr)
	}
}

func equalValues[T any](a, b T) bool {
	if fa, ok := any(a).(float64); ok {
		return math.Float64bits(fa) == math.Float64bits(any(b).(float64))
	}
	return any(a) == any(b)
}

func TestJSONFastMarshal(t *testing.T) {
	for _, v := range []any{0, -1, math.MaxInt64, math.MinInt64, int64(-7), int32(math.MinInt32), uint(7),
		uint64(math.MaxUint64), uint32(9), true, false, "", "plain", "with \"quote\"", "tab\t", "<html>", "a&b",
		"ünïcode", "\x7f", string([]byte{0xff}), string(make([]byte, 300)),
		[]byte(nil), []byte{}, []byte{0}, []byte("ab"), []byte("abc"), []byte{0xff, 0xfe, 0x80}, make([]byte, 1000)} {
		checkMarshal(t, v)
	}
}

// checkUnmarshalBytes is checkUnmarshal for []byte.
func checkUnmarshalBytes(t *testing.T, data string) {
	t.Helper()
	var want, got []byte
	werr := json.Unmarshal([]byte(data), &want)
	gerr := JSON.Unmarshal([]byte(data), &got)
	if (werr != nil) != (gerr != nil) || (werr == nil && (!bytes.Equal(got, want) || (got == nil) != (want == nil))) {
		t.Errorf("Unmarshal[[]byte](%q) = %q, %v; encoding/json: %q, %v", data, got, gerr, want, werr)
	}
}

var bytesInputs = []string{`""`, `"AA=="`, `"AAA="`, `"YWJj"`, `"YWJ"`, `"YW=j"`, `"YW\u004aj"`, `"YW\nJj"`,
	"\"YW\nJj\"", "\"YW\rJj\"", "\"YW\tJj\"", `"Y WJj"`, `" YWJj"`, ` "YWJj"`, `"YWJj" `, `null`, `"`, `"\"`,
	`"////"`, `"-_-_"`, `"YWJj==="`, "\"\xff\xfe\"", `1`, `[1]`}

func TestJSONFastBytes(t *testing.T) {
	for _, in := range bytesInputs {
		checkUnmarshalBytes(t, in)
	}
}

func TestJSONFastNilPointers(t *testing.T) {
	// A nil pointer is encoding/json's error, not a panic.
	for _, v := range []any{(*int)(nil), (*int64)(nil), (*float64)(nil), (*bool)(nil), (*string)(nil), (*[]byte)(nil), nil} {
		for _, data := range []string{"1", "true", `"AA=="`} {
			want := json.Unmarshal([]byte(data), v)
			if err := JSON.Unmarshal([]byte(data), v); err == nil || want == nil || !strings.Contains(err.Error(), want.Error()) {
				t.Errorf("Unmarshal(%s, %T) = %v; encoding/json: %v", data, v, err, want)
			}
		}
	}
}

func FuzzJSONFastBytes(f *testing.F) {
	for _, in := range bytesInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkUnmarshalBytes(t, in)
		checkMarshal(t, []byte(in))
	})
}

var unmarshalInputs = []string{"0", "-0", "1", "-1", "01", "1.5", "-1.5e3", "1e400", "9223372036854775807",
	"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "1E+2", "1.", ".5", "+1", "0x10",
	"9999999999999999999", "-9999999999999999999", "18446744073709551615", "-", "-01", "2147483648",
	"Inf", "NaN", "true", "false", "null", `"x"`, `"a\"b"`, `"\u00e9"`, `"<>"`, `""`, " 1", "1 ", "tru", `"`}

func TestJSONFastUnmarshal(t *testing.T) {
	for _, in := range unmarshalInputs {
		checkUnmarshal[int](t, in)
		checkUnmarshal[int64](t, in)
		checkUnmarshal[float64](t, in)
		checkUnmarshal[bool](t, in)
		checkUnmarshal[string](t, in)
	}
}

func FuzzJSONFastUnmarshal(f *testing.F) {
	for _, in := range unmarshalInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		checkUnmarshal[int](t, in)
		checkUnmarshal[int64](t, in)
		checkUnmarshal[float64](t, in)
		checkUnmarshal[bool](t, in)
		checkUnmarshal[string](t, in)
	})
}

func FuzzJSONFastMarshal(f *testing.F) {
	f.Add("x", int64(1))
	f.Fuzz(func(t *testing.T, s string, n int64) {
		checkMarshal(t, s)
		checkMarshal(t, n)
		checkMarshal(t, int(n))
		checkMarshal(t, uint64(n))
	})
}
