package farm

import (
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
)

func TestEmitterOrderAndClose(t *testing.T) {
	var got []uint64
	e := newEmitter(func(ev Event) { got = append(got, ev.CallID) }, 0, hclog.NewNullLogger())
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
	e := newEmitter(func(Event) { <-release; n.Add(1) }, 0, hclog.NewNullLogger())
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
	e := newEmitter(nil, 0, hclog.NewNullLogger())
	if e.on(EventMessage) || !e.close(0) {
		t.Fatal("an emitter without listener")
	}
}

// BenchmarkEmitterPush measures queueing one event and its delivery to a
// listener that counts, on the listener's goroutine.
func BenchmarkEmitterPush(b *testing.B) {
	var n atomic.Int64
	e := newEmitter(func(Event) { n.Add(1) }, 0, hclog.NewNullLogger())
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
	e := newEmitter(func(Event) { got <- struct{}{} }, 0, hclog.NewNullLogger())
	ev := Event{Type: EventMessage, Method: "add", Attempt: 1}
	for b.Loop() {
		e.push(ev)
		<-got
	}
	e.close(time.Minute)
}

// A listener that takes some event types only is given those: the farm
// does not even time-stamp the others.
func TestEmitterMask(t *testing.T) {
	got := make(chan EventType, 4)
	e := newEmitter(func(ev Event) { got <- ev.Type }, 1<<EventOnline|1<<EventExit, hclog.NewNullLogger())
	if e.on(EventMessage) || e.on(EventRetry) || !e.on(EventOnline) || !e.on(EventExit) {
		t.Fatal("the mask does not say which events the listener takes")
	}
	f := &Farm{ev: e}
	f.emitLocked(Event{Type: EventMessage})
	f.emitLocked(Event{Type: EventExit})
	if !e.close(time.Second) {
		t.Fatal("the listener did not finish")
	}
	close(got)
	var types []EventType
	for ty := range got {
		types = append(types, ty)
	}
	if len(types) != 1 || types[0] != EventExit {
		t.Fatalf("the listener got %v, want only the exit", types)
	}
	if all := newEmitter(func(Event) {}, 0, hclog.NewNullLogger()); !all.on(EventMessage) || !all.close(time.Second) {
		t.Fatal("a mask of 0 is not every event")
	}
}
