package worker

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// TestSessionRecyclesReplies runs calls whose results are small (kept with
// their recycled reply) or large, in batches, many at a time: each reply
// must carry its own call's result when it reaches the sender.
func TestSessionRecyclesReplies(t *testing.T) {
	rep := func(n int) string { return strings.Repeat(strconv.Itoa(n%10), n%400) }
	srv := testServer(t, Methods{"rep": rep})
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
	srv.serveSession(context.Background(), recv, send, true, nil)
	if n := answered.Load(); n != batches*batch {
		t.Fatalf("%d replies, want %d", n, batches*batch)
	}
}

// rawSerializer passes []byte through as it is: its Marshal returns its
// argument, a buffer the worker does not own.
type rawSerializer struct{}

func (rawSerializer) Name() string { return "raw" }

func (rawSerializer) Marshal(v any) ([]byte, error) {
	b, ok := v.([]byte)
	if !ok {
		return nil, fmt.Errorf("raw: %T is not []byte", v)
	}
	return b, nil
}

func (rawSerializer) Unmarshal(data []byte, v any) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("raw: %T is not *[]byte", v)
	}
	*p = data
	return nil
}

// TestSessionKeepsOnlyOwnedResults returns a package-level slice through a
// serializer whose Marshal hands it back as it is, then small JSON results:
// a recycled reply must not append them into the slice it only borrowed.
func TestSessionKeepsOnlyOwnedResults(t *testing.T) {
	table := []byte("HELLO-WORLD-CACHED-VALUE")
	srv := testServer(t, Methods{
		"get": func() []byte { return table },
		"num": func(n int) int { return n },
	}, rawSerializer{})
	var next int
	recv := func() (*workerpb.CallBatch, error) {
		if next == 400 {
			return nil, io.EOF
		}
		b := &workerpb.CallBatch{}
		for range 4 {
			next++
			c := &workerpb.Call{Id: uint64(next), Method: "num", Args: [][]byte{[]byte(strconv.Itoa(next))}}
			if next%2 == 1 {
				c.Method, c.Serializer, c.Args = "get", "raw", nil
			}
			b.Calls = append(b.Calls, c)
		}
		return b, nil
	}
	send := func(rs []*workerpb.Reply) error {
		for _, r := range rs {
			want := strconv.Itoa(int(r.Id))
			if r.Id%2 == 1 {
				want = "HELLO-WORLD-CACHED-VALUE"
			}
			if r.Error != nil || string(r.Result) != want {
				t.Errorf("reply %d: %q, %v; want %q", r.Id, r.Result, r.Error, want)
			}
		}
		return nil
	}
	srv.serveSession(context.Background(), recv, send, true, nil)
	if string(table) != "HELLO-WORLD-CACHED-VALUE" {
		t.Fatalf("the function's slice was written to: %q", table)
	}
}

// TestSessionKeepsItsRunners runs 200 calls at once, then checks that the
// session keeps their goroutines waiting for the next calls instead of
// letting all but 64 exit (new ones would grow their stacks again), and
// that none is left after the session.
func TestSessionKeepsItsRunners(t *testing.T) {
	const n = 200
	var started sync.WaitGroup
	started.Add(n)
	release := make(chan struct{})
	srv := testServer(t, Methods{"wait": func() {
		started.Done()
		<-release
	}})
	var answered atomic.Int64
	idle, sent := 0, false
	recv := func() (*workerpb.CallBatch, error) {
		if sent {
			// Every call answered: count the goroutines left waiting.
			if !testutil.WaitFor(10*time.Second, func() bool { return answered.Load() == n }) {
				t.Errorf("%d of %d calls answered after 10s", answered.Load(), n)
			}
			idle = runners()
			return nil, io.EOF
		}
		sent = true
		b := &workerpb.CallBatch{}
		for i := range n {
			b.Calls = append(b.Calls, &workerpb.Call{Id: uint64(i + 1), Method: "wait"})
		}
		go func() {
			started.Wait() // all n running at once
			close(release)
		}()
		return b, nil
	}
	send := func(rs []*workerpb.Reply) error {
		answered.Add(int64(len(rs)))
		return nil
	}
	srv.serveSession(context.Background(), recv, send, true, nil)
	if idle < n {
		t.Errorf("%d goroutines waiting after %d calls at once, want %d", idle, n, n)
	}
	// A runner is done once it has called Done; it may still be on its way
	// out.
	if !testutil.WaitFor(5*time.Second, func() bool { return runners() == 0 }) {
		t.Errorf("%d call goroutines left after the session", runners())
	}
}

// runners counts the goroutines of this process that are sessions' call
// goroutines.
func runners() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			return strings.Count(string(buf[:n]), "worker.(*session).runner(")
		}
		buf = make([]byte, 2*len(buf))
	}
}

// testServer is a worker's server of methods with the built-in serializers
// and extra, run in the test's process.
func testServer(tb testing.TB, methods Methods, extra ...serializer.Serializer) *server {
	tb.Helper()
	sers, err := serializer.NewRegistry(extra...)
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := newServer(methods, sers, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return srv
}

// TestSendNow: a reply leaves at once when it is the last in flight or its
// call ran for flushAfter or more; otherwise it waits for the batcher.
func TestSendNow(t *testing.T) {
	for _, tc := range []struct {
		alone bool
		ran   time.Duration
		want  bool
	}{
		{true, 0, true},
		{false, 0, false},
		{false, flushAfter - 1, false},
		{false, flushAfter, true},
		{false, time.Second, true},
	} {
		if got := sendNow(tc.alone, tc.ran); got != tc.want {
			t.Errorf("sendNow(%v, %v) = %v, want %v", tc.alone, tc.ran, got, tc.want)
		}
	}
}
