package farm

import (
	"testing"
	"unsafe"
)

// A queued call costs its Future: it must stay in the 384-byte size class
// of Go's allocator (burst200k's bytes_per_queued_call).
func TestFutureSizeClass(t *testing.T) {
	if n := unsafe.Sizeof(Future{}); n > 384 {
		t.Fatalf("a Future is %d bytes: over the 384-byte size class", n)
	}
}
