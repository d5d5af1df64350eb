package farm_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// Big and small byte slices in flight together, which share frames and go
// to the socket from their own slices (vectored writes) on both sides,
// each arrive intact, even though the caller overwrites its slice as soon
// as Go returns: Go takes a copy.
func TestBigPayloadsInFlightTogether(t *testing.T) {
	for _, s := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		t.Run(s.Name(), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 2, Serializer: s})
			sizes := []int{1, 100, 32<<10 - 1, 32 << 10, 32<<10 + 1, 1<<20 + 3, 3 << 20, 5<<20 + 1}
			var futures []*farm.Future
			var want [][]byte
			for i := range 3 * len(sizes) {
				n := sizes[i%len(sizes)]
				b := make([]byte, n)
				for j := range b {
					b[j] = byte(i + j*7)
				}
				want = append(want, bytes.Clone(b))
				futures = append(futures, f.Go(ctx(t), "echoBytes", b))
				for j := range b {
					b[j] = 0xff
				}
			}
			for i, fu := range futures {
				r, err := fu.Wait(ctx(t))
				if err != nil {
					t.Fatalf("call %d: %v", i, err)
				}
				var got []byte
				if err := r.Decode(&got); err != nil || !bytes.Equal(got, want[i]) {
					t.Fatalf("call %d of %d bytes: %s, %v", i, len(want[i]), describe(got, want[i]), err)
				}
			}
		})
	}
}

// describe says where got differs from want.
func describe(got, want []byte) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d bytes back", len(got))
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Sprintf("byte %d is %#x, want %#x", i, got[i], want[i])
		}
	}
	return "equal"
}
