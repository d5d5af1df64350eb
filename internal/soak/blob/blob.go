// Package blob makes the byte slices that the chaos soak's blob calls
// carry: the host and the chaos worker make the same one for a kind, and
// the worker checks the one it got against its own.
package blob

// Kinds is the number of distinct blobs.
const Kinds = 8

// Size is the length of blob kind k: from 16 KiB (below the shared-memory
// threshold) to 1 MiB.
func Size(k int) int { return 16 << 10 << (k % 7) }

// Make returns blob kind k: Size(k) bytes of a pattern of its own.
func Make(k int) []byte {
	b := make([]byte, Size(k))
	x := uint32(k)*2654435761 + 1
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}
