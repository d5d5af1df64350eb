package remote

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// The hand-made encoding is the protobuf message's, both ways.
func TestBatchCodecIsProtobuf(t *testing.T) {
	calls := []Call{
		{ID: 1, Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("2")}},
		{ID: 1 << 40, Method: "m", Serializer: "cbor", Args: [][]byte{{}, make([]byte, 300)}, RawArgs: 2, Budget: time.Second, Slot: 3},
	}
	var b []byte
	for i := range calls {
		b = AppendCall(b, &calls[i])
	}
	b = AppendCancel(b, 7)
	b = AppendBatchTail(b, "h1", 9, 11, time.Second, 1<<20, true)
	var m remotepb.Batch
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Host != "h1" || m.Session != 9 || len(m.Calls) != 2 || len(m.Cancels) != 1 || m.Cancels[0] != 7 || !m.Lost ||
		m.HeartbeatNanos != int64(time.Second) || m.MaxMessage != 1<<20 || m.Epoch != 11 {
		t.Fatalf("proto.Unmarshal: %v", &m)
	}
	if c := m.Calls[1]; c.Id != 1<<40 || c.Method != "m" || c.Serializer != "cbor" || len(c.Args) != 2 || len(c.Args[1]) != 300 ||
		c.RawArgs != 2 || c.BudgetNanos != int64(time.Second) || c.Slot != 3 {
		t.Fatalf("call: %v", c)
	}
	var x Batch
	if err := DecodeBatch(b, &x, wire.Interner{}); err != nil {
		t.Fatal(err)
	}
	if x.Host != "h1" || x.Epoch != 11 || len(x.Calls) != 2 || x.Calls[1].Budget != time.Second || x.Calls[1].Slot != 3 || string(x.Calls[0].Args[1]) != "2" || !x.Lost {
		t.Fatalf("DecodeBatch: %+v", x)
	}
	// What proto.Marshal writes (packed cancels) decodes too.
	pb, _ := proto.Marshal(&remotepb.Batch{Host: "h2", Cancels: []uint64{1, 2}, Calls: []*remotepb.Call{{Id: 5, Method: "x"}}})
	if err := DecodeBatch(pb, &x, wire.Interner{}); err != nil || x.Host != "h2" || len(x.Cancels) != 2 || x.Calls[0].ID != 5 {
		t.Fatalf("a proto.Marshal batch: %+v %v", x, err)
	}
	if err := DecodeBatch([]byte{0xff, 0xff}, &x, wire.Interner{}); err == nil {
		t.Error("garbage decoded")
	}
}

func TestRepliesCodecIsProtobuf(t *testing.T) {
	rs := []Reply{
		{ID: 1, Result: []byte("6"), PID: 123},
		{ID: 2, Error: &workerpb.Error{Code: workerpb.Error_PANIC, Message: "boom"}, Slot: 1},
		{ID: 3, Failure: &remotepb.Failure{Kind: remotepb.Failure_WORKER_EXIT, ExitCode: 3}, RawResult: true},
	}
	var b []byte
	for i := range rs {
		b = AppendReply(b, &rs[i])
	}
	b = AppendRepliesTail(b, "a1", 4, true)
	var m remotepb.Replies
	if err := proto.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Agent != "a1" || m.Session != 4 || !m.Bye || len(m.Replies) != 3 || m.Replies[1].Error.Message != "boom" || m.Replies[2].Failure.ExitCode != 3 || m.Replies[0].Pid != 123 {
		t.Fatalf("proto.Unmarshal: %v", &m)
	}
	x, got, err := DecodeReplies(b, nil)
	if err != nil || x.Agent != "a1" || x.Session != 4 || !x.Bye || len(got) != 3 {
		t.Fatalf("DecodeReplies: %+v %v %v", x, got, err)
	}
	if string(got[0].Result) != "6" || got[1].Error.Code != workerpb.Error_PANIC || got[1].Slot != 1 || got[2].Failure.Kind != remotepb.Failure_WORKER_EXIT || !got[2].RawResult {
		t.Fatalf("DecodeReplies: %+v", got)
	}
}

// A batch of many calls with 0 to 4 arguments each: every call gets its own
// arguments, the calls decoded before a new chunk of argument slices keep
// theirs, and appending to a call's arguments writes none of another's.
func TestDecodeBatchManyArgs(t *testing.T) {
	var b []byte
	for i := range 300 {
		c := Call{ID: uint64(i + 1), Method: "m", Serializer: "json"}
		for j := range i % 5 {
			c.Args = append(c.Args, []byte{byte(i), byte(j)})
		}
		b = AppendCall(b, &c)
	}
	b = AppendBatchTail(b, "h", 1, 1, time.Second, 0, false)
	var x Batch
	if err := DecodeBatch(b, &x, wire.Interner{}); err != nil {
		t.Fatal(err)
	}
	if len(x.Calls) != 300 {
		t.Fatalf("%d calls decoded, want 300", len(x.Calls))
	}
	for i, c := range x.Calls {
		if c.ID != uint64(i+1) || len(c.Args) != i%5 {
			t.Fatalf("call %d: id %d, %d arguments, want %d", i, c.ID, len(c.Args), i%5)
		}
		for j, a := range c.Args {
			if len(a) != 2 || a[0] != byte(i) || a[1] != byte(j) {
				t.Fatalf("call %d argument %d = %v", i, j, a)
			}
		}
		if len(c.Args) > 0 && cap(c.Args) != len(c.Args) {
			t.Fatalf("call %d: its arguments' slice has room beyond them (cap %d, len %d)", i, cap(c.Args), len(c.Args))
		}
	}
}

// BenchmarkDecodeBatch decodes a batch of 256 calls of three small
// arguments, as an agent gets them from a host at a deep queue.
func BenchmarkDecodeBatch(b *testing.B) {
	var msg []byte
	for i := range 256 {
		c := Call{ID: uint64(i + 1), Method: "add", Serializer: "json", Args: [][]byte{[]byte("1"), []byte("2"), []byte("345")}, Slot: int32(i % 2)}
		msg = AppendCall(msg, &c)
	}
	msg = AppendBatchTail(msg, "h1", 1, 1, time.Second, 1<<20, false)
	var x Batch
	in := wire.Interner{}
	b.ReportAllocs()
	b.SetBytes(int64(len(msg)))
	for b.Loop() {
		if err := DecodeBatch(msg, &x, in); err != nil || len(x.Calls) != 256 {
			b.Fatal(err)
		}
	}
}
