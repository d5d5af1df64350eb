package plugin

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

// interner returns one string for equal byte slices, up to a bound.
type interner map[string]string

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < 256 {
		in[s] = s
	}
	return s
}

// decodeCallBatch decodes a CallBatch frame.
func decodeCallBatch(b []byte, in interner) (*workerpb.CallBatch, error) {
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

func fastCallBatch(b []byte, in interner) (*workerpb.CallBatch, error) {
	m := &workerpb.CallBatch{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errFallback
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, errFallback
			}
			c, err := fastCall(v, in)
			if err != nil {
				return nil, err
			}
			m.Calls = append(m.Calls, c)
			b = b[n:]
		case num == 2 && typ == protowire.BytesType: // packed cancels
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, errFallback
			}
			for len(v) > 0 {
				id, k := protowire.ConsumeVarint(v)
				if k < 0 {
					return nil, errFallback
				}
				m.Cancels = append(m.Cancels, id)
				v = v[k:]
			}
			b = b[n:]
		default:
			return nil, errFallback
		}
	}
	return m, nil
}

func fastCall(b []byte, in interner) (*workerpb.Call, error) {
	c := &workerpb.Call{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errFallback
		}
		b = b[n:]
		switch {
		case (num == 1 || num == 5) && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, errFallback
			}
			if num == 1 {
				c.Id = v
			} else {
				c.TimeoutNanos = int64(v)
			}
			b = b[n:]
		case num >= 2 && num <= 4 && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, errFallback
			}
			switch num {
			case 2:
				c.Method = in.get(v)
			case 3:
				c.Serializer = in.get(v)
			case 4:
				c.Args = append(c.Args, v[:len(v):len(v)])
			}
			b = b[n:]
		default:
			return nil, errFallback
		}
	}
	if !utf8.ValidString(c.Method) || !utf8.ValidString(c.Serializer) {
		return nil, errFallback // proto.Unmarshal says what is wrong
	}
	return c, nil
}

// decodeReplyBatch decodes a ReplyBatch frame; results alias it.
func decodeReplyBatch(b []byte) (*workerpb.ReplyBatch, error) {
	return decodeFrame(b, fastReplyBatch)
}

func fastReplyBatch(b []byte) (*workerpb.ReplyBatch, error) {
	m := &workerpb.ReplyBatch{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			return nil, errFallback
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil, errFallback
		}
		r, err := fastReply(v)
		if err != nil {
			return nil, err
		}
		m.Replies = append(m.Replies, r)
		b = b[n:]
	}
	return m, nil
}

func fastReply(b []byte) (*workerpb.Reply, error) {
	r := &workerpb.Reply{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return nil, errFallback
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return nil, errFallback
			}
			r.Id = v
			b = b[n:]
		case (num == 2 || num == 3) && typ == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return nil, errFallback
			}
			if num == 2 {
				r.Result = v[:len(v):len(v)]
			} else if r.Error != nil {
				return nil, errFallback // a repeated message field merges
			} else {
				// Errors are rare: the generic decoder does them.
				e := &workerpb.Error{}
				if err := proto.Unmarshal(v, e); err != nil {
					return nil, fmt.Errorf("reply %d: %w", r.Id, err)
				}
				r.Error = e
			}
			b = b[n:]
		default:
			return nil, errFallback
		}
	}
	return r, nil
}
