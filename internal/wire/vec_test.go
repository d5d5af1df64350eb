package wire

import (
	"bytes"
	"math/rand/v2"
	"testing"
	"time"
)

// flat is the bytes of v's stream after its first skip bytes.
func flat(v *Vec, skip int) []byte {
	var out []byte
	for _, p := range v.Segments(nil, skip) {
		out = append(out, p...)
	}
	return out
}

// The vectored encoders write the bytes of the copying ones, with big
// arguments and results by reference; Segments skips what was written, and
// Truncate cuts back to an earlier length.
func TestVecEncodersMatchFlat(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	for i := range 500 {
		cb := randomCallBatch(r)
		var items []Item
		for _, c := range cb.Calls {
			items = append(items, Item{Req: Request{ID: c.Id, Method: c.Method, Serializer: c.Serializer,
				Args: c.Args, Timeout: time.Duration(c.TimeoutNanos), RawArgs: c.RawArgs}})
		}
		for _, c := range cb.Cancels {
			items = append(items, Item{Cancel: c, IsCancel: true})
		}
		v := Vec{Buf: []byte("kept"), Min: 1 + r.IntN(8)}
		AppendCallBatchVec(&v, items)
		want := AppendCallBatchFrame([]byte("kept"), items)
		if got := flat(&v, 0); !bytes.Equal(got, want) || v.Len() != len(want) {
			t.Fatalf("CallBatch %d: %x; flat: %x", i, got, want)
		}
		mark := v.Len()
		rb := randomReplyBatch(r)
		if err := AppendReplyBatchVec(&v, rb.Replies); err != nil {
			t.Fatal(err)
		}
		want, _ = AppendReplyBatchFrame(want, rb.Replies)
		skip := r.IntN(len(want) + 1)
		if got := flat(&v, skip); !bytes.Equal(got, want[skip:]) {
			t.Fatalf("batch %d after %d bytes: %x; flat: %x", i, skip, got, want[skip:])
		}
		v.Truncate(mark)
		if got := flat(&v, 0); !bytes.Equal(got, want[:mark]) {
			t.Fatalf("batch %d cut to %d bytes: %x; want %x", i, mark, got, want[:mark])
		}
		var w bytes.Buffer
		if _, err := v.WriteTo(&w, 0); err != nil || !bytes.Equal(w.Bytes(), want[:mark]) || v.Len() != 0 {
			t.Fatalf("batch %d written: %x, %v; want %x", i, w.Bytes(), err, want[:mark])
		}
	}
}
