package serializer_test

import (
	"testing"

	"github.com/workestrator/workestrator/pkg/serializer"
)

func BenchmarkJSON(b *testing.B) { benchmark(b, serializer.JSON) }
func BenchmarkCBOR(b *testing.B) { benchmark(b, serializer.CBOR) }

func benchmark(b *testing.B, s serializer.Serializer) {
	b.Run("args", func(b *testing.B) {
		// A call's arguments travel one by one, each decoded into its
		// parameter's type.
		args := []any{1, 2, 3}
		b.ReportAllocs()
		for b.Loop() {
			for _, a := range args {
				data, err := s.Marshal(a)
				if err != nil {
					b.Fatal(err)
				}
				var n int
				if err := s.Unmarshal(data, &n); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("bytes1MiB", func(b *testing.B) {
		in := make([]byte, 1<<20)
		for i := range in {
			in[i] = byte(i * 7)
		}
		b.SetBytes(int64(len(in)))
		b.ReportAllocs()
		for b.Loop() {
			data, err := s.Marshal(in)
			if err != nil {
				b.Fatal(err)
			}
			var out []byte
			if err := s.Unmarshal(data, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
}
