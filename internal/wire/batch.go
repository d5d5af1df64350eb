package wire

import (
	"strings"
	"unicode/utf8"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// ValidUTF8 replaces the invalid bytes of s with U+FFFD.
func ValidUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// MaxBatchBytes caps the bytes gathered in one stream message; a single
// larger item still goes alone.
const MaxBatchBytes = 4 << 20

// ReplyCost is what r adds to a message, at least: its result, its
// error's texts and details, and an allowance for ids and tags.
func ReplyCost(r *workerpb.Reply) int {
	n := len(r.Result) + 16
	if e := r.Error; e != nil {
		n += len(e.Type) + len(e.Message) + len(e.Stack) + len(e.Details) + 32
	}
	return n
}

// EachReplyBatch splits rs into parts of at most maxBatchBytes (a larger
// single reply goes alone) and hands each to send.
func EachReplyBatch(rs []*workerpb.Reply, send func([]*workerpb.Reply) error) error {
	for len(rs) > 0 {
		n, size := 0, 0
		for n < len(rs) {
			c := ReplyCost(rs[n])
			if n > 0 && size+c > MaxBatchBytes {
				break
			}
			size += c
			n++
		}
		if err := send(rs[:n]); err != nil {
			return err
		}
		rs = rs[n:]
	}
	return nil
}
