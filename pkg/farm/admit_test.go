package farm_test

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// callOrder records the call ids of the message events of method, in order.
type callOrder struct {
	mu  sync.Mutex
	ids []uint64
}

func (m *callOrder) listen(method string) func(farm.Event) {
	return func(ev farm.Event) {
		if ev.Type == farm.EventMessage && ev.Method == method {
			m.mu.Lock()
			m.ids = append(m.ids, ev.CallID)
			m.mu.Unlock()
		}
	}
}

func (m *callOrder) get() []uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.ids)
}

// hold starts a call that keeps the farm's only worker busy until release
// is called, and waits until it runs.
func hold(t *testing.T, f *farm.Farm) (release func()) {
	t.Helper()
	c, cancel := context.WithCancel(ctx(t))
	fu := f.Go(c, "sleep", 60_000)
	testutil.Eventually(t, 10*time.Second, "the holding call runs", func() bool { return f.Stats().InFlight == 1 && f.Stats().Queued == 0 })
	return func() {
		cancel()
		if _, err := fu.Result(); !errors.Is(err, context.Canceled) {
			t.Errorf("holding call: %v", err)
		}
	}
}

// With Wait, a call over MaxConcurrentCalls waits instead of being
// refused; a waiter whose context ends leaves holding nothing, and the
// next one is admitted when room frees; waiters are admitted in order.
func TestWaitForRoom(t *testing.T) {
	var order callOrder
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1, MaxConcurrentCalls: 1, OnEvent: order.listen("add")})
	release := hold(t, f)
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); !errors.Is(err, farm.ErrMaxConcurrentCalls) {
		t.Fatalf("a call without Wait: %v, want ErrMaxConcurrentCalls", err)
	}
	waiting := f.With(farm.CallOptions{Wait: true})

	// The first waiter leaves: its context is cancelled, then another's
	// deadline passes; the holder still holds, so nobody is admitted.
	c1, cancel1 := context.WithCancel(ctx(t))
	first := waiting.Go(c1, "add", 0, 0, 1)
	c2, cancel2 := context.WithTimeout(ctx(t), 100*time.Millisecond)
	defer cancel2()
	second := waiting.Go(c2, "add", 0, 0, 2)
	var later []*farm.Future
	for i := range 5 {
		later = append(later, waiting.Go(ctx(t), "add", 0, 0, 10+i))
	}
	cancel1()
	if _, err := first.Result(); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled waiter: %v, want context.Canceled", err)
	}
	if _, err := second.Result(); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("expired waiter: %v, want context.DeadlineExceeded", err)
	}
	for _, fu := range later {
		select {
		case <-fu.Done():
			t.Fatal("a waiter was admitted while the holder holds the only room")
		default:
		}
	}
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); !errors.Is(err, farm.ErrMaxConcurrentCalls) {
		t.Fatalf("the waiters that left freed room: %v", err)
	}

	release()
	for i, fu := range later {
		r, err := fu.Result()
		var n int
		if err == nil {
			err = r.Decode(&n)
		}
		if err != nil || n != 10+i {
			t.Fatalf("waiter %d: %d, %v", i, n, err)
		}
	}
	// Admitted in arrival order: with one call at a time, answered in it.
	testutil.Eventually(t, 10*time.Second, "7 message events", func() bool { return len(order.get()) == 7 })
	ids := order.get()
	if !slices.IsSorted(ids[2:]) {
		t.Fatalf("answer order %v: the later waiters out of arrival order", ids)
	}
	if st := f.Stats(); st.Refused != 2 || st.InFlight != 0 || st.Queued != 0 {
		t.Fatalf("stats: refused %d, in flight %d, queued %d", st.Refused, st.InFlight, st.Queued)
	}
}

// Kill answers waiting calls with ErrFarmKilled.
func TestWaitForRoomKill(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1, MaxConcurrentCalls: 1})
	_ = hold(t, f)
	fu := f.With(farm.CallOptions{Wait: true}).Go(context.Background(), "pid")
	f.Kill()
	if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
		t.Fatalf("waiter at Kill: %v, want ErrFarmKilled", err)
	}
}
