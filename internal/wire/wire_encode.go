package wire

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// Encoders of the socket data plane's two hot messages, written by hand:
// they append a frame (the message's length, then the message) straight
// from the host's requests or the worker's replies, with no message object
// in between and no reflection. Their bytes are those proto.Marshal writes
// for the same message (wire_test.go checks it), so a reader may use either.

// sizeField is the size of a length-delimited field of n bytes whose number
// is below 16 (a one-byte tag).
func sizeField(n int) int { return 1 + protowire.SizeBytes(n) }

func CallSize(r *Request) int {
	n := 0
	if r.ID != 0 {
		n += 1 + protowire.SizeVarint(r.ID)
	}
	if r.Method != "" {
		n += sizeField(len(r.Method))
	}
	if r.Serializer != "" {
		n += sizeField(len(r.Serializer))
	}
	for i, a := range r.Args {
		if r.inShm(i) {
			n += sizeField(0)
		} else {
			n += sizeField(len(a))
		}
	}
	if r.Timeout != 0 {
		n += 1 + protowire.SizeVarint(uint64(r.Timeout))
	}
	if r.RawArgs != 0 {
		n += 1 + protowire.SizeVarint(r.RawArgs)
	}
	if r.ShmSize != 0 {
		n += shmSize(r)
	}
	return n
}

// inShm reports whether r.Args[i] travels in the call's block.
func (r *Request) inShm(i int) bool { return i < 64 && r.ShmArgs&(1<<i) != 0 }

// shmLensSize is the size of the packed shm_arg_lens of r.
func shmLensSize(r *Request) int {
	n := 0
	for i, a := range r.Args {
		if r.inShm(i) {
			n += protowire.SizeVarint(uint64(len(a)))
		}
	}
	return n
}

// shmSize is the size of r's shared-memory fields (7 to 10).
func shmSize(r *Request) int {
	n := 1 + protowire.SizeVarint(r.ShmSize)
	if r.ShmOffset != 0 {
		n += 1 + protowire.SizeVarint(r.ShmOffset)
	}
	if r.ShmArgs != 0 {
		n += 1 + protowire.SizeVarint(r.ShmArgs) + sizeField(shmLensSize(r))
	}
	return n
}

// appendShm appends r's shared-memory fields; the lengths are those of
// r.Args, whose headers anyone may read.
func appendShm(b []byte, r *Request) []byte {
	if r.ShmOffset != 0 {
		b = protowire.AppendTag(b, 7, protowire.VarintType)
		b = protowire.AppendVarint(b, r.ShmOffset)
	}
	b = protowire.AppendTag(b, 8, protowire.VarintType)
	b = protowire.AppendVarint(b, r.ShmSize)
	if r.ShmArgs == 0 {
		return b
	}
	b = protowire.AppendTag(b, 9, protowire.VarintType)
	b = protowire.AppendVarint(b, r.ShmArgs)
	b = protowire.AppendTag(b, 10, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(shmLensSize(r)))
	for i, a := range r.Args {
		if r.inShm(i) {
			b = protowire.AppendVarint(b, uint64(len(a)))
		}
	}
	return b
}

// appendCall appends the fields of r as a workerpb.Call to v.
func appendCall(v *Vec, r *Request) {
	b := v.Buf
	if r.ID != 0 {
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, r.ID)
	}
	if r.Method != "" {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, r.Method)
	}
	if r.Serializer != "" {
		b = protowire.AppendTag(b, 3, protowire.BytesType)
		b = protowire.AppendString(b, r.Serializer)
	}
	for i, a := range r.Args {
		b = protowire.AppendTag(b, 4, protowire.BytesType)
		if r.inShm(i) {
			b = protowire.AppendVarint(b, 0)
			continue
		}
		b = protowire.AppendVarint(b, uint64(len(a)))
		v.Buf = b
		if r.Loan != nil {
			v.appendLent(r.Loan, i)
		} else {
			v.appendData(a)
		}
		b = v.Buf
	}
	if r.Timeout != 0 {
		b = protowire.AppendTag(b, 5, protowire.VarintType)
		b = protowire.AppendVarint(b, uint64(r.Timeout))
	}
	if r.RawArgs != 0 {
		b = protowire.AppendTag(b, 6, protowire.VarintType)
		b = protowire.AppendVarint(b, r.RawArgs)
	}
	if r.ShmSize != 0 {
		b = appendShm(b, r)
	}
	v.Buf = b
}

// AppendCallBatchFrame appends the frame of the CallBatch that carries
// items: their calls, then their cancels. Method and serializer names must
// be valid UTF-8 (Enqueue makes them so).
func AppendCallBatchFrame(b []byte, items []Item) []byte {
	v := Vec{Buf: b}
	AppendCallBatchVec(&v, items)
	return v.Buf
}

// AppendCallBatchVec appends the frame of the CallBatch that carries items
// to v: arguments of at least v.Min bytes by reference.
func AppendCallBatchVec(v *Vec, items []Item) {
	size, cancels := 0, 0
	for i := range items {
		if it := &items[i]; it.IsCancel {
			cancels += protowire.SizeVarint(it.Cancel)
		} else {
			size += sizeField(CallSize(&it.Req))
		}
	}
	if cancels > 0 {
		size += sizeField(cancels)
	}
	b := protowire.AppendVarint(v.Buf, uint64(size))
	for i := range items {
		if it := &items[i]; !it.IsCancel {
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(CallSize(&it.Req)))
			v.Buf = b
			if l := it.Req.Loan; l != nil {
				// Lent arguments are read under the loan's lock; the
				// request's own reference ends here.
				l.mu.Lock()
				appendCall(v, &it.Req)
				l.held--
				l.mu.Unlock()
			} else {
				appendCall(v, &it.Req)
			}
			b = v.Buf
		}
	}
	if cancels > 0 {
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(cancels))
		for i := range items {
			if items[i].IsCancel {
				b = protowire.AppendVarint(b, items[i].Cancel)
			}
		}
	}
	v.Buf = b
}

// ReplySize is the size of r as a workerpb.Reply; errSize is that of its
// error (0 without one).
func ReplySize(r *workerpb.Reply) (size, errSize int) {
	if r.Id != 0 {
		size += 1 + protowire.SizeVarint(r.Id)
	}
	if len(r.Result) > 0 {
		size += sizeField(len(r.Result))
	}
	if r.Error != nil {
		errSize = proto.Size(r.Error)
		size += sizeField(errSize)
	}
	if r.RawResult {
		size += 2
	}
	if r.ShmResultLen != 0 {
		size += 1 + protowire.SizeVarint(r.ShmResultLen)
	}
	return size, errSize
}

// AppendReplyBatchFrame appends the frame of a ReplyBatch of rs. The rare
// errors are marshalled by proto; results are copied once, into b.
func AppendReplyBatchFrame(b []byte, rs []*workerpb.Reply) ([]byte, error) {
	v := Vec{Buf: b}
	err := AppendReplyBatchVec(&v, rs)
	return v.Buf, err
}

// AppendReplyBatchVec appends the frame of a ReplyBatch of rs to v: results
// of at least v.Min bytes by reference, the others copied.
func AppendReplyBatchVec(v *Vec, rs []*workerpb.Reply) error {
	size := 0
	for _, r := range rs {
		n, _ := ReplySize(r)
		size += sizeField(n)
	}
	b := protowire.AppendVarint(v.Buf, uint64(size))
	defer func() { v.Buf = b }()
	for _, r := range rs {
		n, errSize := ReplySize(r)
		b = protowire.AppendTag(b, 1, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(n))
		if r.Id != 0 {
			b = protowire.AppendTag(b, 1, protowire.VarintType)
			b = protowire.AppendVarint(b, r.Id)
		}
		if len(r.Result) > 0 {
			b = protowire.AppendTag(b, 2, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(len(r.Result)))
			v.Buf = b
			v.appendData(r.Result)
			b = v.Buf
		}
		if r.Error != nil {
			b = protowire.AppendTag(b, 3, protowire.BytesType)
			b = protowire.AppendVarint(b, uint64(errSize))
			var err error
			if b, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(b, r.Error); err != nil {
				return err
			}
		}
		if r.RawResult {
			b = protowire.AppendTag(b, 4, protowire.VarintType)
			b = protowire.AppendVarint(b, 1)
		}
		if r.ShmResultLen != 0 {
			b = protowire.AppendTag(b, 5, protowire.VarintType)
			b = protowire.AppendVarint(b, r.ShmResultLen)
		}
	}
	return nil
}
