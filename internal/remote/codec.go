package remote

import (
	"errors"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// The hot messages, Batch and Replies, are encoded and decoded here by
// hand, without a message value per call; they are exactly the protobuf
// messages of remotepb (input the fast decoders do not take goes to
// proto.Unmarshal).

// Call is one call of a Batch (remotepb.Call).
type Call struct {
	ID         uint64
	Method     string
	Serializer string
	// Args alias the decoded message.
	Args    [][]byte
	RawArgs uint64
	// Budget is the time the attempt has left when sent; 0: no bound.
	Budget time.Duration
	Slot   int32
}

// Batch is a remotepb.Batch.
type Batch struct {
	Host       string
	Session    uint64
	Calls      []Call
	Cancels    []uint64
	Heartbeat  time.Duration
	MaxMessage int64
	Lost       bool
	Epoch      uint64
}

// CallSize is the encoded size of c's Call message.
func CallSize(c *Call) int {
	n := 1 + protowire.SizeVarint(c.ID)
	n += 1 + protowire.SizeBytes(len(c.Method))
	n += 1 + protowire.SizeBytes(len(c.Serializer))
	for _, a := range c.Args {
		n += 1 + protowire.SizeBytes(len(a))
	}
	if c.RawArgs != 0 {
		n += 1 + protowire.SizeVarint(c.RawArgs)
	}
	if c.Budget > 0 {
		n += 1 + protowire.SizeVarint(uint64(c.Budget))
	}
	if c.Slot != 0 {
		n += 1 + protowire.SizeVarint(uint64(c.Slot))
	}
	return n
}

// AppendCall appends c as one call of a Batch (its field 3).
func AppendCall(b []byte, c *Call) []byte {
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(CallSize(c)))
	b = appendVarintField(b, 1, c.ID)
	b = appendBytesField(b, 2, []byte(c.Method))
	b = appendBytesField(b, 3, []byte(c.Serializer))
	for _, a := range c.Args {
		b = appendBytesField(b, 4, a)
	}
	if c.RawArgs != 0 {
		b = appendVarintField(b, 5, c.RawArgs)
	}
	if c.Budget > 0 {
		b = appendVarintField(b, 6, uint64(c.Budget))
	}
	if c.Slot != 0 {
		b = appendVarintField(b, 7, uint64(c.Slot))
	}
	return b
}

// AppendCancel appends a cancel of call id to a Batch.
func AppendCancel(b []byte, id uint64) []byte { return appendVarintField(b, 4, id) }

// AppendBatchTail appends a Batch's own fields to its calls and cancels.
func AppendBatchTail(b []byte, host string, session, epoch uint64, heartbeat time.Duration, maxMessage int, lost bool) []byte {
	b = appendBytesField(b, 1, []byte(host))
	b = appendVarintField(b, 2, session)
	b = appendVarintField(b, 8, epoch)
	b = appendVarintField(b, 5, uint64(heartbeat))
	if maxMessage > 0 {
		b = appendVarintField(b, 6, uint64(maxMessage))
	}
	if lost {
		b = appendVarintField(b, 7, 1)
	}
	return b
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	b = protowire.AppendTag(b, num, protowire.VarintType)
	return protowire.AppendVarint(b, v)
}

func appendBytesField(b []byte, num protowire.Number, v []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, v)
}

// DecodeBatch decodes b into x, reusing x's slices; the arguments alias b.
// Method and serializer names are interned in in.
func DecodeBatch(b []byte, x *Batch, in wire.Interner) error {
	*x = Batch{Calls: x.Calls[:0], Cancels: x.Cancels[:0]}
	// The calls' arguments share slices of the message's own: they outlive
	// x, which is reused.
	var args [][]byte
	err := wire.EachField(b, func(f wire.Field) error {
		switch {
		case f.Num == 1 && f.Typ == protowire.BytesType:
			x.Host = string(f.Bytes)
		case f.Num == 2 && f.Typ == protowire.VarintType:
			x.Session = f.Varint
		case f.Num == 3 && f.Typ == protowire.BytesType:
			x.Calls = append(x.Calls, Call{})
			return decodeCall(f.Bytes, &x.Calls[len(x.Calls)-1], in, &args)
		case f.Num == 4 && f.Typ == protowire.VarintType:
			x.Cancels = append(x.Cancels, f.Varint)
		case f.Num == 5 && f.Typ == protowire.VarintType:
			x.Heartbeat = time.Duration(f.Varint)
		case f.Num == 6 && f.Typ == protowire.VarintType:
			x.MaxMessage = int64(f.Varint)
		case f.Num == 7 && f.Typ == protowire.VarintType:
			x.Lost = f.Varint != 0
		case f.Num == 8 && f.Typ == protowire.VarintType:
			x.Epoch = f.Varint
		default:
			return wire.ErrNotFast
		}
		return nil
	})
	if errors.Is(err, wire.ErrNotFast) {
		return slowBatch(b, x)
	}
	return err
}

// decodeCall decodes the Call message b into c; its arguments go to the
// end of *args, which grows by new chunks (the calls before keep theirs).
func decodeCall(b []byte, c *Call, in wire.Interner, args *[][]byte) error {
	first := len(*args)
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return wire.ErrNotFast
		}
		b = b[n:]
		switch typ {
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return wire.ErrNotFast
			}
			b = b[n:]
			switch num {
			case 1:
				c.ID = v
			case 5:
				c.RawArgs = v
			case 6:
				c.Budget = time.Duration(v)
			case 7:
				c.Slot = int32(v)
			default:
				return wire.ErrNotFast
			}
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return wire.ErrNotFast
			}
			b = b[n:]
			switch num {
			case 2:
				c.Method = in.Get(v)
			case 3:
				c.Serializer = in.Get(v)
			case 4:
				if len(*args) == cap(*args) {
					// A new chunk, with this call's arguments so far.
					grown := make([][]byte, 0, max(16, 2*cap(*args)))
					*args = append(grown, (*args)[first:]...)
					first = 0
				}
				*args = append(*args, v[:len(v):len(v)])
			default:
				return wire.ErrNotFast
			}
		default:
			return wire.ErrNotFast
		}
	}
	if len(*args) > first {
		c.Args = (*args)[first:len(*args):len(*args)]
	}
	return nil
}

// slowBatch decodes b with proto.Unmarshal.
func slowBatch(b []byte, x *Batch) error {
	var m remotepb.Batch
	if err := proto.Unmarshal(b, &m); err != nil {
		return err
	}
	*x = Batch{Host: m.Host, Session: m.Session, Cancels: m.Cancels, Heartbeat: time.Duration(m.HeartbeatNanos),
		MaxMessage: m.MaxMessage, Lost: m.Lost, Epoch: m.Epoch}
	for _, c := range m.Calls {
		x.Calls = append(x.Calls, Call{ID: c.Id, Method: c.Method, Serializer: c.Serializer, Args: c.Args,
			RawArgs: c.RawArgs, Budget: time.Duration(c.BudgetNanos), Slot: c.Slot})
	}
	return nil
}

// Reply is one answer of a Replies message (remotepb.Reply).
type Reply struct {
	ID        uint64
	Result    []byte
	RawResult bool
	// Error is the worker's failure report; Failure the agent's own.
	Error   *workerpb.Error
	Failure *remotepb.Failure
	PID     int64
	Slot    int32
}

// AppendReply appends r as one reply of a Replies message (its field 3).
func AppendReply(b []byte, r *Reply) []byte {
	var sub []byte
	if r.Error != nil {
		sub, _ = proto.Marshal(r.Error)
	}
	var fail []byte
	if r.Failure != nil {
		fail, _ = proto.Marshal(r.Failure)
	}
	n := 1 + protowire.SizeVarint(r.ID)
	if len(r.Result) > 0 {
		n += 1 + protowire.SizeBytes(len(r.Result))
	}
	if r.RawResult {
		n += 2
	}
	if r.Error != nil {
		n += 1 + protowire.SizeBytes(len(sub))
	}
	if r.Failure != nil {
		n += 1 + protowire.SizeBytes(len(fail))
	}
	if r.PID != 0 {
		n += 1 + protowire.SizeVarint(uint64(r.PID))
	}
	if r.Slot != 0 {
		n += 1 + protowire.SizeVarint(uint64(r.Slot))
	}
	b = protowire.AppendTag(b, 3, protowire.BytesType)
	b = protowire.AppendVarint(b, uint64(n))
	b = appendVarintField(b, 1, r.ID)
	if len(r.Result) > 0 {
		b = appendBytesField(b, 2, r.Result)
	}
	if r.RawResult {
		b = appendVarintField(b, 3, 1)
	}
	if r.Error != nil {
		b = appendBytesField(b, 4, sub)
	}
	if r.Failure != nil {
		b = appendBytesField(b, 5, fail)
	}
	if r.PID != 0 {
		b = appendVarintField(b, 6, uint64(r.PID))
	}
	if r.Slot != 0 {
		b = appendVarintField(b, 7, uint64(r.Slot))
	}
	return b
}

// ReplySize bounds what AppendReply adds for r, errors aside.
func ReplySize(r *Reply) int { return len(r.Result) + 40 }

// AppendRepliesTail appends a Replies message's own fields to its replies.
func AppendRepliesTail(b []byte, agent string, session uint64, bye bool) []byte {
	b = appendBytesField(b, 1, []byte(agent))
	b = appendVarintField(b, 2, session)
	if bye {
		b = appendVarintField(b, 4, 1)
	}
	return b
}

// Replies is a decoded Replies message but its replies.
type Replies struct {
	Agent   string
	Session uint64
	Bye     bool
}

// DecodeReplies decodes a Replies message: its own fields, and its
// replies appended to rs (results alias b).
func DecodeReplies(b []byte, rs []Reply) (Replies, []Reply, error) {
	start := len(rs)
	var x Replies
	err := wire.EachField(b, func(f wire.Field) error {
		switch {
		case f.Num == 1 && f.Typ == protowire.BytesType:
			x.Agent = string(f.Bytes)
		case f.Num == 2 && f.Typ == protowire.VarintType:
			x.Session = f.Varint
		case f.Num == 3 && f.Typ == protowire.BytesType:
			rs = append(rs, Reply{})
			return decodeReply(f.Bytes, &rs[len(rs)-1])
		case f.Num == 4 && f.Typ == protowire.VarintType:
			x.Bye = f.Varint != 0
		default:
			return wire.ErrNotFast
		}
		return nil
	})
	if errors.Is(err, wire.ErrNotFast) {
		var m remotepb.Replies
		if err := proto.Unmarshal(b, &m); err != nil {
			return Replies{}, rs[:start], err
		}
		rs = rs[:start]
		for _, r := range m.Replies {
			rs = append(rs, Reply{ID: r.Id, Result: r.Result, RawResult: r.RawResult, Error: r.Error, Failure: r.Failure, PID: r.Pid, Slot: r.Slot})
		}
		return Replies{Agent: m.Agent, Session: m.Session, Bye: m.Bye}, rs, nil
	}
	return x, rs, err
}

func decodeReply(b []byte, r *Reply) error {
	return wire.EachField(b, func(f wire.Field) error {
		switch {
		case f.Num == 1 && f.Typ == protowire.VarintType:
			r.ID = f.Varint
		case f.Num == 2 && f.Typ == protowire.BytesType:
			r.Result = f.Bytes[:len(f.Bytes):len(f.Bytes)]
		case f.Num == 3 && f.Typ == protowire.VarintType:
			r.RawResult = f.Varint != 0
		case f.Num == 4 && f.Typ == protowire.BytesType && r.Error == nil:
			r.Error = &workerpb.Error{}
			if err := proto.Unmarshal(f.Bytes, r.Error); err != nil {
				return fmt.Errorf("reply %d: %w", r.ID, err)
			}
		case f.Num == 5 && f.Typ == protowire.BytesType && r.Failure == nil:
			r.Failure = &remotepb.Failure{}
			if err := proto.Unmarshal(f.Bytes, r.Failure); err != nil {
				return fmt.Errorf("reply %d: %w", r.ID, err)
			}
		case f.Num == 6 && f.Typ == protowire.VarintType:
			r.PID = int64(f.Varint)
		case f.Num == 7 && f.Typ == protowire.VarintType:
			r.Slot = int32(f.Varint)
		default:
			return wire.ErrNotFast
		}
		return nil
	})
}
