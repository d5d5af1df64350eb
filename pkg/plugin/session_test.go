package plugin

import (
	"context"
	"io"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// TestSessionRecyclesReplies runs calls whose results are small (kept with
// their recycled reply) or large, in batches, many at a time: each reply
// must carry its own call's result when it reaches the sender.
func TestSessionRecyclesReplies(t *testing.T) {
	sers, err := serializer.NewRegistry()
	if err != nil {
		t.Fatal(err)
	}
	rep := func(n int) string { return strings.Repeat(strconv.Itoa(n%10), n%400) }
	srv, err := newServer(Methods{"rep": rep}, sers, 0)
	if err != nil {
		t.Fatal(err)
	}
	const batches, batch = 200, 16
	var next int
	var answered atomic.Int64
	recv := func() (*workerpb.CallBatch, error) {
		if next == batches*batch {
			return nil, io.EOF
		}
		b := &workerpb.CallBatch{}
		for range batch {
			next++
			b.Calls = append(b.Calls, &workerpb.Call{Id: uint64(next), Method: "rep", Args: [][]byte{[]byte(strconv.Itoa(next))}})
		}
		return b, nil
	}
	send := func(rs []*workerpb.Reply) error {
		for _, r := range rs {
			if want := strconv.Quote(rep(int(r.Id))); r.Error != nil || string(r.Result) != want {
				t.Errorf("reply %d: %.40q, %v; want %.40q", r.Id, r.Result, r.Error, want)
			}
		}
		answered.Add(int64(len(rs)))
		return nil
	}
	srv.serveSession(context.Background(), recv, send)
	if n := answered.Load(); n != batches*batch {
		t.Fatalf("%d replies, want %d", n, batches*batch)
	}
}
