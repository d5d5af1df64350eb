package wire

import (
	"bytes"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func randomCallBatch(r *rand.Rand) *workerpb.CallBatch {
	m := &workerpb.CallBatch{}
	for range r.IntN(5) {
		c := &workerpb.Call{Id: r.Uint64(), Method: []string{"", "run", "add", "ünï"}[r.IntN(4)],
			Serializer: []string{"", "json", "cbor"}[r.IntN(3)], TimeoutNanos: r.Int64N(1e12)}
		if r.IntN(2) == 0 {
			c.RawArgs = r.Uint64() >> r.IntN(64)
		}
		for range r.IntN(4) {
			c.Args = append(c.Args, make([]byte, r.IntN(40)))
		}
		if r.IntN(3) == 0 { // a block, and arguments in it
			c.ShmSize = 1 + r.Uint64N(1<<30)
			if r.IntN(2) == 0 {
				c.ShmOffset = r.Uint64N(1 << 30)
			}
			for i := range c.Args {
				if r.IntN(2) == 0 {
					c.ShmArgs |= 1 << i
					c.Args[i] = []byte{}
					c.ShmArgLens = append(c.ShmArgLens, r.Uint64N(1<<20))
				}
			}
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
		rep := &workerpb.Reply{Id: r.Uint64(), Result: make([]byte, r.IntN(40)), RawResult: r.IntN(2) == 0}
		if r.IntN(3) == 0 {
			rep.Result, rep.ShmResultLen = nil, 1+r.Uint64N(1<<30)
		}
		if r.IntN(3) == 0 {
			rep.Result = nil
			rep.Error = &workerpb.Error{Code: workerpb.Error_PANIC, Type: "panic", Message: "m", Stack: "s", Details: []byte{1}, Permanent: true}
		}
		m.Replies = append(m.Replies, rep)
	}
	return m
}

// sameResponses reports whether got are the responses of want's replies.
func sameResponses(got []Response, want *workerpb.ReplyBatch) bool {
	if len(got) != len(want.Replies) {
		return false
	}
	for i, r := range want.Replies {
		g := got[i]
		if g.ID != r.Id || !bytes.Equal(g.Result, r.Result) || g.RawResult != r.RawResult || g.ShmResult != r.ShmResultLen || (g.Failure == nil) != (r.Error == nil) ||
			(r.Error != nil && !proto.Equal(g.Failure, r.Error)) {
			return false
		}
	}
	return true
}

func TestWireDecodersMatchProto(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		cb := randomCallBatch(r)
		b, _ := proto.Marshal(cb)
		got, err := DecodeCallBatch(b, Interner{})
		if err != nil || !proto.Equal(got, cb) {
			t.Fatalf("CallBatch %d: %v, %v; want %v", i, got, err, cb)
		}
		rb := randomReplyBatch(r)
		b, _ = proto.Marshal(rb)
		gotR, err := DecodeReplies(b, nil)
		if err != nil || !sameResponses(gotR, rb) {
			t.Fatalf("ReplyBatch %d: %v, %v; want %v", i, gotR, err, rb)
		}
	}
}

// frameOf is the frame proto.Marshal makes of m.
func frameOf(t *testing.T, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return append(protowire.AppendVarint(nil, uint64(len(b))), b...)
}

func TestWireEncodersMatchProto(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for i := range 2000 {
		cb := randomCallBatch(r)
		// The same calls and cancels as outItems, interleaved: calls keep
		// their order, cancels theirs.
		var items []Item
		calls, cancels := cb.Calls, cb.Cancels
		for len(calls)+len(cancels) > 0 {
			if len(cancels) > 0 && (len(calls) == 0 || r.IntN(2) == 0) {
				items = append(items, Item{Cancel: cancels[0], IsCancel: true})
				cancels = cancels[1:]
				continue
			}
			c := calls[0]
			calls = calls[1:]
			// The arguments in the block are the request's own, of the
			// lengths the frame carries.
			args := slices.Clone(c.Args)
			k := 0
			for i := range args {
				if c.ShmArgs&(1<<i) != 0 {
					args[i] = make([]byte, c.ShmArgLens[k])
					k++
				}
			}
			items = append(items, Item{Req: Request{ID: c.Id, Method: c.Method, Serializer: c.Serializer,
				Args: args, Timeout: time.Duration(c.TimeoutNanos), RawArgs: c.RawArgs,
				ShmOffset: c.ShmOffset, ShmSize: c.ShmSize, ShmArgs: c.ShmArgs}})
		}
		prefix := []byte("kept")
		if got, want := AppendCallBatchFrame(prefix, items), append(prefix, frameOf(t, cb)...); !bytes.Equal(got, want) {
			t.Fatalf("CallBatch %d: %x; proto.Marshal: %x", i, got, want)
		}
		rb := randomReplyBatch(r)
		got, err := AppendReplyBatchFrame(prefix, rb.Replies)
		if want := append(prefix, frameOf(t, rb)...); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("ReplyBatch %d: %x, %v; proto.Marshal: %x", i, got, err, want)
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
		gotC, gerr := DecodeCallBatch(append([]byte(nil), b...), Interner{})
		if (werr == nil) != (gerr == nil) || (werr == nil && !proto.Equal(gotC, &wantC)) {
			t.Fatalf("CallBatch: %v, %v; proto: %v, %v", gotC, gerr, &wantC, werr)
		}
		var wantR workerpb.ReplyBatch
		werr = proto.Unmarshal(b, &wantR)
		gotR, gerr := DecodeReplies(append([]byte(nil), b...), nil)
		if (werr == nil) != (gerr == nil) || (werr == nil && !sameResponses(gotR, &wantR)) {
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
		in := Interner{}
		for b.Loop() {
			if _, err := DecodeCallBatch(frame, in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkEncodeCallBatch(b *testing.B) {
	var m workerpb.CallBatch
	items := make([]Item, 8)
	for i := range items {
		r := Request{ID: uint64(i), Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("2"), []byte("3")}}
		items[i] = Item{Req: r}
		m.Calls = append(m.Calls, &workerpb.Call{Id: r.ID, Method: r.Method, Serializer: r.Serializer, Args: r.Args})
	}
	b.Run("proto.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			var err error
			buf = protowire.AppendVarint(buf[:0], uint64(proto.Size(&m)))
			if buf, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(buf, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendCallBatchFrame", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for b.Loop() {
			buf = AppendCallBatchFrame(buf[:0], items)
		}
	})
}
