package plugin

import (
	"math/rand/v2"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func randomCallBatch(r *rand.Rand) *workerpb.CallBatch {
	m := &workerpb.CallBatch{}
	for range r.IntN(5) {
		c := &workerpb.Call{Id: r.Uint64(), Method: []string{"", "run", "add", "ünï"}[r.IntN(4)],
			Serializer: []string{"", "json", "cbor"}[r.IntN(3)], TimeoutNanos: r.Int64N(1e12)}
		for range r.IntN(4) {
			c.Args = append(c.Args, make([]byte, r.IntN(40)))
		}
		m.Calls = append(m.Calls, c)
	}
	for range r.IntN(3) {
		m.Cancels = append(m.Cancels, r.Uint64())
	}
	return m
}

func randomReplyBatch(r *rand.Rand) *workerpb.ReplyBatch {
	m := &workerpb.ReplyBatch{}
	for range r.IntN(5) {
		rep := &workerpb.Reply{Id: r.Uint64(), Result: make([]byte, r.IntN(40))}
		if r.IntN(3) == 0 {
			rep.Result = nil
			rep.Error = &workerpb.Error{Code: workerpb.Error_PANIC, Type: "panic", Message: "m", Stack: "s", Details: []byte{1}, Permanent: true}
		}
		m.Replies = append(m.Replies, rep)
	}
	return m
}

func TestWireDecodersMatchProto(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		cb := randomCallBatch(r)
		b, _ := proto.Marshal(cb)
		got, err := decodeCallBatch(b, interner{})
		if err != nil || !proto.Equal(got, cb) {
			t.Fatalf("CallBatch %d: %v, %v; want %v", i, got, err, cb)
		}
		rb := randomReplyBatch(r)
		b, _ = proto.Marshal(rb)
		gotR, err := decodeReplyBatch(b)
		if err != nil || !proto.Equal(gotR, rb) {
			t.Fatalf("ReplyBatch %d: %v, %v; want %v", i, gotR, err, rb)
		}
	}
}

// FuzzWireDecoders checks that the decoders accept exactly what
// proto.Unmarshal accepts, with the same result.
func FuzzWireDecoders(f *testing.F) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 20 {
		b, _ := proto.Marshal(randomCallBatch(r))
		f.Add(b)
		b, _ = proto.Marshal(randomReplyBatch(r))
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var wantC workerpb.CallBatch
		werr := proto.Unmarshal(b, &wantC)
		gotC, gerr := decodeCallBatch(append([]byte(nil), b...), interner{})
		if (werr == nil) != (gerr == nil) || (werr == nil && !proto.Equal(gotC, &wantC)) {
			t.Fatalf("CallBatch: %v, %v; proto: %v, %v", gotC, gerr, &wantC, werr)
		}
		var wantR workerpb.ReplyBatch
		werr = proto.Unmarshal(b, &wantR)
		gotR, gerr := decodeReplyBatch(append([]byte(nil), b...))
		if (werr == nil) != (gerr == nil) || (werr == nil && !proto.Equal(gotR, &wantR)) {
			t.Fatalf("ReplyBatch: %v, %v; proto: %v, %v", gotR, gerr, &wantR, werr)
		}
	})
}

func benchBatch() []byte {
	m := &workerpb.CallBatch{}
	for i := range 8 {
		m.Calls = append(m.Calls, &workerpb.Call{Id: uint64(i), Method: "add", Serializer: "json",
			Args: [][]byte{[]byte("1"), []byte("2"), []byte("3")}})
	}
	b, _ := proto.Marshal(m)
	return b
}

func BenchmarkDecodeCallBatch(b *testing.B) {
	frame := benchBatch()
	b.Run("proto.Unmarshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m workerpb.CallBatch
			if err := proto.Unmarshal(frame, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decodeCallBatch", func(b *testing.B) {
		b.ReportAllocs()
		in := interner{}
		for b.Loop() {
			if _, err := decodeCallBatch(frame, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}
