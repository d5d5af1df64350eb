package worker

import (
	"context"
	"io"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// BenchmarkServeSession is the worker's part of a call between the decoded
// frame and the reply handed to the sender: the hand-off to a runner
// goroutine, add's arguments, the call, its result and the reply, with 64
// calls in flight in batches of 16. No socket, no syscall.
func BenchmarkServeSession(b *testing.B) {
	srv := testServer(b, Methods{"add": func(a, b, c int) int { return a + b + c }})
	const batch, window = 16, 64
	calls := make([]*workerpb.Call, batch)
	for i := range calls {
		calls[i] = &workerpb.Call{Id: uint64(i + 1), Method: "add", Args: [][]byte{[]byte("1"), []byte("2"), []byte(strconv.Itoa(1000 + i))}}
	}
	total := int64((b.N + batch - 1) / batch * batch)
	var issued int64
	var answered atomic.Int64
	progress := make(chan struct{}, 1)
	recv := func() (*workerpb.CallBatch, error) {
		for issued-answered.Load() > window-batch || (issued == total && answered.Load() < total) {
			<-progress
		}
		if issued == total {
			return nil, io.EOF
		}
		issued += batch
		return &workerpb.CallBatch{Calls: calls}, nil
	}
	send := func(rs []*workerpb.Reply) error {
		for _, r := range rs {
			if r.Error != nil || string(r.Result) != strconv.Itoa(1003+int(r.Id)-1) {
				b.Errorf("reply %d: %s, %v", r.Id, r.Result, r.Error)
			}
		}
		answered.Add(int64(len(rs)))
		select {
		case progress <- struct{}{}:
		default:
		}
		return nil
	}
	b.ReportAllocs()
	b.ResetTimer()
	srv.serveSession(context.Background(), recv, send, true, nil)
}
