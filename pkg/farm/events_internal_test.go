package farm

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestEmitterOrderAndClose(t *testing.T) {
	var got []uint64
	e := newEmitter(func(ev Event) { got = append(got, ev.CallID) }, hclog.NewNullLogger())
	for i := range 10000 {
		e.push(Event{Type: EventMessage, CallID: uint64(i)})
	}
	if !e.close(5 * time.Second) {
		t.Fatal("close timed out")
	}
	e.push(Event{Type: EventMessage, CallID: 1 << 40}) // after close: dropped, no panic
	if len(got) != 10000 {
		t.Fatalf("%d events delivered", len(got))
	}
	for i, id := range got {
		if id != uint64(i) {
			t.Fatalf("event %d has call %d", i, id)
		}
	}
}

func TestEmitterCloseTimesOut(t *testing.T) {
	release := make(chan struct{})
	var n atomic.Int64
	e := newEmitter(func(Event) { <-release; n.Add(1) }, hclog.NewNullLogger())
	e.push(Event{Type: EventFork})
	e.push(Event{Type: EventOnline})
	start := time.Now()
	if e.close(50 * time.Millisecond) {
		t.Fatal("close reported a blocked listener done")
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("close took %v", d)
	}
	close(release)
	<-e.done // the goroutine delivers the rest, then ends
	if n.Load() != 2 {
		t.Fatalf("%d events delivered", n.Load())
	}
}

func TestEmitterOff(t *testing.T) {
	e := newEmitter(nil, hclog.NewNullLogger())
	if e.on() || !e.close(0) {
		t.Fatal("an emitter without listener")
	}
}

// BenchmarkEmitterPush measures queueing one event and its delivery to a
// listener that counts, on the listener's goroutine.
func BenchmarkEmitterPush(b *testing.B) {
	var n atomic.Int64
	e := newEmitter(func(Event) { n.Add(1) }, hclog.NewNullLogger())
	ev := Event{Type: EventMessage, Method: "add", Attempt: 1}
	for b.Loop() {
		e.push(ev)
	}
	e.close(time.Minute)
	if n.Load() != int64(b.N) {
		b.Fatalf("%d of %d delivered", n.Load(), b.N)
	}
}

// BenchmarkEmitterPushOneByOne waits for each event's delivery, as a
// sequential caller does: the cost of waking the listener's goroutine.
func BenchmarkEmitterPushOneByOne(b *testing.B) {
	got := make(chan struct{}, 1)
	e := newEmitter(func(Event) { got <- struct{}{} }, hclog.NewNullLogger())
	ev := Event{Type: EventMessage, Method: "add", Attempt: 1}
	for b.Loop() {
		e.push(ev)
		<-got
	}
	e.close(time.Minute)
}
