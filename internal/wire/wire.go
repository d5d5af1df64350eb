package wire

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// Decoders of the data plane's two hot messages, CallBatch and ReplyBatch,
// written by hand for the socket data plane: the bytes fields (arguments,
// results) alias the frame instead of being copied one by one, and strings
// that repeat (method and serializer names) are interned. The frame must
// not be reused afterwards. Anything they do not expect (an unknown field,
// a wire type they do not know) sends the frame to proto.Unmarshal, so that
// they accept exactly what it accepts.

var errFallback = errors.New("not a fast-path message")

// Interner returns one string for equal byte slices, up to a bound.
type Interner map[string]string

// Get returns the string of b, interned.
func (in Interner) Get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 256 {
		in[s] = s
	}
	return s
}

// DecodeCallBatch decodes a CallBatch frame.
func DecodeCallBatch(b []byte, in Interner) (*workerpb.CallBatch, error) {
	return decodeFrame(b, func(b []byte) (*workerpb.CallBatch, error) { return fastCallBatch(b, in) })
}

// decodeFrame decodes b with fast, or with proto.Unmarshal when fast does
// not take it.
func decodeFrame[M any, P interface {
	*M
	proto.Message
}](b []byte, fast func([]byte) (P, error)) (P, error) {
	if m, err := fast(b); err == nil {
		return m, nil
	}
	m := P(new(M))
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, err
	}
	return m, nil
}

// Field is one field of a protobuf message: its number, and its value as
// a varint (VarintType) or as bytes (BytesType).
type Field struct {
	Num    protowire.Number
	Typ    protowire.Type
	Varint uint64
	Bytes  []byte
}

// ErrNotFast is EachField's error for input it does not take: a wire type
// other than varint and bytes, or malformed input. The generic decoder
// (proto.Unmarshal) says which.
var ErrNotFast = errFallback

// EachField calls fn for each varint or length-delimited field of b; any
// other wire type, or malformed input, is ErrNotFast.
func EachField(b []byte, fn func(Field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errFallback
		}
		b = b[n:]
		f := Field{Num: num, Typ: typ}
		switch typ {
		case protowire.VarintType:
			f.Varint, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.Bytes, n = protowire.ConsumeBytes(b)
		default:
			return errFallback
		}
		if n < 0 {
			return errFallback
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func fastCallBatch(b []byte, in Interner) (*workerpb.CallBatch, error) {
	// Count the calls first, to make room for all of them at once.
	n := 0
	for v := b; len(v) > 0 && v[0] == 1<<3|byte(protowire.BytesType); n++ {
		_, k := protowire.ConsumeBytes(v[1:])
		if k < 0 {
			break
		}
		v = v[1+k:]
	}
	m := &workerpb.CallBatch{}
	var boxes []callBox
	if n > 0 {
		m.Calls = make([]*workerpb.Call, 0, n)
		boxes = make([]callBox, n)
	}
	err := EachField(b, func(f Field) error {
		switch {
		case f.Num == 1 && f.Typ == protowire.BytesType:
			var box *callBox
			if len(boxes) > 0 {
				box, boxes = &boxes[0], boxes[1:]
			} else {
				box = new(callBox)
			}
			c, err := fastCall(f.Bytes, in, box)
			if err != nil {
				return err
			}
			m.Calls = append(m.Calls, c)
		case f.Num == 2 && f.Typ == protowire.BytesType: // packed cancels
			var ok bool
			if m.Cancels, ok = appendPacked(m.Cancels, f.Bytes); !ok {
				return errFallback
			}
		default:
			return errFallback
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// callBox holds a decoded call and room for its arguments: a frame's calls
// of up to four arguments take one allocation in all.
type callBox struct {
	call workerpb.Call
	argv [4][]byte
	lens [4]uint64
}

// fastCall decodes a Call into box.
func fastCall(b []byte, in Interner, box *callBox) (*workerpb.Call, error) {
	c := &box.call
	c.Args = box.argv[:0]
	lensSeen := false
	err := EachField(b, func(f Field) error {
		switch {
		case f.Num == 1 && f.Typ == protowire.VarintType:
			c.Id = f.Varint
		case f.Num == 5 && f.Typ == protowire.VarintType:
			c.TimeoutNanos = int64(f.Varint)
		case f.Num == 6 && f.Typ == protowire.VarintType:
			c.RawArgs = f.Varint
		case f.Num == 2 && f.Typ == protowire.BytesType:
			c.Method = in.Get(f.Bytes)
		case f.Num == 3 && f.Typ == protowire.BytesType:
			c.Serializer = in.Get(f.Bytes)
		case f.Num == 4 && f.Typ == protowire.BytesType:
			c.Args = append(c.Args, f.Bytes[:len(f.Bytes):len(f.Bytes)])
		case f.Num == 7 && f.Typ == protowire.VarintType:
			c.ShmOffset = f.Varint
		case f.Num == 8 && f.Typ == protowire.VarintType:
			c.ShmSize = f.Varint
		case f.Num == 9 && f.Typ == protowire.VarintType:
			c.ShmArgs = f.Varint
		case f.Num == 10 && f.Typ == protowire.BytesType && !lensSeen: // packed
			lensSeen = true
			var ok bool
			if c.ShmArgLens, ok = appendPacked(box.lens[:0], f.Bytes); !ok {
				return errFallback
			}
		default:
			return errFallback
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !utf8.ValidString(c.Method) || !utf8.ValidString(c.Serializer) {
		return nil, errFallback // proto.Unmarshal says what is wrong
	}
	return c, nil
}

// DecodeReplies decodes a ReplyBatch frame into rs (appended to); results
// alias the frame.
func DecodeReplies(b []byte, rs []Response) ([]Response, error) {
	n := len(rs)
	rs, err := fastReplies(b, rs)
	if err == nil {
		return rs, nil
	}
	clear(rs[n:])
	rs = rs[:n]
	var m workerpb.ReplyBatch
	if err := proto.Unmarshal(b, &m); err != nil {
		return rs, err
	}
	return AppendResponses(rs, m.Replies), nil
}

// AppendResponses appends the Response of each reply.
func AppendResponses(rs []Response, replies []*workerpb.Reply) []Response {
	for _, r := range replies {
		rs = append(rs, Response{ID: r.Id, Result: r.Result, Failure: r.Error, RawResult: r.RawResult, ShmResult: r.ShmResultLen})
	}
	return rs
}

func fastReplies(b []byte, rs []Response) ([]Response, error) {
	err := EachField(b, func(f Field) error {
		if f.Num != 1 || f.Typ != protowire.BytesType {
			return errFallback
		}
		r, err := fastReply(f.Bytes)
		if err != nil {
			return err
		}
		rs = append(rs, r)
		return nil
	})
	return rs, err
}

func fastReply(b []byte) (Response, error) {
	var r Response
	err := EachField(b, func(f Field) error {
		switch {
		case f.Num == 1 && f.Typ == protowire.VarintType:
			r.ID = f.Varint
		case f.Num == 2 && f.Typ == protowire.BytesType:
			r.Result = f.Bytes[:len(f.Bytes):len(f.Bytes)]
		case f.Num == 3 && f.Typ == protowire.BytesType && r.Failure == nil:
			// Errors are rare: the generic decoder does them. A second
			// error field would merge: that is for proto.Unmarshal too.
			e := &workerpb.Error{}
			if err := proto.Unmarshal(f.Bytes, e); err != nil {
				return fmt.Errorf("reply %d: %w", r.ID, err)
			}
			r.Failure = e
		case f.Num == 4 && f.Typ == protowire.VarintType:
			r.RawResult = f.Varint != 0
		case f.Num == 5 && f.Typ == protowire.VarintType:
			r.ShmResult = f.Varint
		default:
			return errFallback
		}
		return nil
	})
	return r, err
}

// appendPacked appends the varints of a packed repeated field's bytes b to
// dst; false if b does not hold whole varints.
func appendPacked(dst []uint64, b []byte) ([]uint64, bool) {
	for len(b) > 0 {
		v, k := protowire.ConsumeVarint(b)
		if k < 0 {
			return dst, false
		}
		dst = append(dst, v)
		b = b[k:]
	}
	return dst, true
}
