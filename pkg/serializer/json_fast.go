package serializer

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"
)

// Fast paths of JSON for the scalars that make up most call arguments and
// results (integers, booleans, plain strings, and decoding of plain
// numbers), and for []byte, which travels as a base64 string that
// encoding/json would scan byte by byte. Each gives exactly the bytes or the
// value encoding/json gives; anything else goes to encoding/json.

// appendFast appends the encoding of v to dst if v is a scalar with a fast
// path.
func appendFast(dst []byte, v any) ([]byte, bool) {
	switch x := v.(type) {
	case int:
		return strconv.AppendInt(dst, int64(x), 10), true
	case int64:
		return strconv.AppendInt(dst, x, 10), true
	case int32:
		return strconv.AppendInt(dst, int64(x), 10), true
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case uint64:
		return strconv.AppendUint(dst, x, 10), true
	case uint32:
		return strconv.AppendUint(dst, uint64(x), 10), true
	case bool:
		if x {
			return append(dst, "true"...), true
		}
		return append(dst, "false"...), true
	case []byte:
		if x == nil {
			return append(dst, "null"...), true
		}
		dst = slices.Grow(dst, base64.StdEncoding.EncodedLen(len(x))+2)
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, x)
		return append(dst, '"'), true
	case string:
		if len(x) > 256 || !plainASCII(x) {
			return dst, false
		}
		dst = append(dst, '"')
		dst = append(dst, x...)
		return append(dst, '"'), true
	}
	return dst, false
}

// plainASCII reports whether s needs no escaping in JSON, as encoding/json
// writes it (which also escapes <, > and &).
func plainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// decodeFast decodes data into v if both have a fast path, and reports
// whether it did.
func decodeFast(data []byte, v any) bool {
	// A nil pointer is left to encoding/json, which says what is wrong.
	switch p := v.(type) {
	case *int:
		if p == nil {
			return false
		}
		if n, ok := parseInt(data, strconv.IntSize); ok {
			*p = int(n)
			return true
		}
	case *int64:
		if p == nil {
			return false
		}
		if n, ok := parseInt(data, 64); ok {
			*p = n
			return true
		}
	case *float64:
		if p == nil {
			return false
		}
		if jsonNumber(data) {
			if f, err := strconv.ParseFloat(string(data), 64); err == nil {
				*p = f
				return true
			}
		}
	case *bool:
		if p == nil {
			return false
		}
		switch string(data) {
		case "true":
			*p = true
			return true
		case "false":
			*p = false
			return true
		}
	case *[]byte:
		if p == nil {
			return false
		}
		// A base64 string. Decode refuses what is not base64 (escapes,
		// quotes, control characters) except line breaks, which JSON
		// refuses in a string: encoding/json then says what is wrong.
		n := len(data)
		if n < 2 || data[0] != '"' || data[n-1] != '"' {
			return false
		}
		s := data[1 : n-1]
		if bytes.IndexByte(s, '\n') >= 0 || bytes.IndexByte(s, '\r') >= 0 {
			return false
		}
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		k, err := base64.StdEncoding.Decode(b, s)
		if err != nil {
			return false
		}
		*p = b[:k]
		return true
	case *string:
		if p == nil {
			return false
		}
		if n := len(data); n >= 2 && n <= 258 && data[0] == '"' && data[n-1] == '"' && plainASCII(string(data[1:n-1])) {
			*p = string(data[1 : n-1])
			return true
		}
	}
	return false
}

// parseInt parses a JSON integer literal: an optional minus sign and digits
// without a leading zero.
func parseInt(data []byte, bits int) (int64, bool) {
	d := data
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if len(d) == 0 || len(d) > 19 || (d[0] == '0' && len(d) > 1) {
		return 0, false
	}
	var u uint64 // at most 19 digits: no overflow
	for _, c := range d {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0')
	}
	limit := uint64(1) << (bits - 1) // -limit .. limit-1
	if len(d) < len(data) {
		if u > limit {
			return 0, false
		}
		return -int64(u), true // -limit wraps to itself: the least int64
	}
	if u >= limit {
		return 0, false
	}
	return int64(u), true
}

// jsonNumber reports whether data is exactly a JSON number literal.
func jsonNumber(data []byte) bool {
	i, n := 0, len(data)
	if i < n && data[i] == '-' {
		i++
	}
	switch {
	case i < n && data[i] == '0':
		i++
	case i < n && data[i] >= '1' && data[i] <= '9':
		for i < n && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	default:
		return false
	}
	if i < n && data[i] == '.' {
		i++
		if i >= n || data[i] < '0' || data[i] > '9' {
			return false
		}
		for i < n && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	if i < n && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < n && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= n || data[i] < '0' || data[i] > '9' {
			return false
		}
		for i < n && data[i] >= '0' && data[i] <= '9' {
			i++
		}
	}
	return i == n
}
