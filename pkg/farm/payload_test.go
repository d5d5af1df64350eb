package farm_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

func TestLargePayloads(t *testing.T) {
	for _, s := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		t.Run(s.Name(), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 1, Serializer: s})
			big := bytes.Repeat([]byte{0xab}, 16<<20)
			n, err := farm.Call[int](ctx(t), f, "size", big)
			if err != nil || n != len(big) {
				t.Fatalf("size = %d, %v", n, err)
			}
			back, err := farm.Call[[]byte](ctx(t), f, "echoBytes", big)
			if err != nil || !bytes.Equal(back, big) {
				t.Fatalf("echo of 16 MiB: %d bytes, %v", len(back), err)
			}
			out, err := farm.Call[[]byte](ctx(t), f, "bytes", 16<<20)
			if err != nil || len(out) != 16<<20 {
				t.Fatalf("16 MiB result: %d bytes, %v", len(out), err)
			}
		})
	}
}

func TestOversizedPayload(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxMessageSize: 1 << 20})
	_, err := f.RunMethod(ctx(t), "size", make([]byte, 2<<20))
	if !errors.Is(err, farm.ErrTooLarge) {
		t.Fatalf("oversized argument: %v", err)
	}
	_, err = f.RunMethod(ctx(t), "bytes", 2<<20)
	if !errors.Is(err, farm.ErrTooLarge) {
		t.Fatalf("oversized result: %v", err)
	}
	if st := f.Stats(); st.Retried != 0 {
		t.Fatalf("oversized calls were retried")
	}
	// The worker is fine.
	if n, err := farm.Call[int](ctx(t), f, "add", 1, 2, 3); err != nil || n != 6 {
		t.Fatal(n, err)
	}
}
