package farm_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/testutil/fixturetypes"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

func TestRunDefaultMethod(t *testing.T) {
	f := newFarm(t, farm.Config{})
	r, err := f.Run(ctx(t), "a", 2, true)
	if err != nil {
		t.Fatal(err)
	}
	var echo fixturetypes.Echo
	if err := r.Decode(&echo); err != nil {
		t.Fatal(err)
	}
	if echo.PID <= 0 || len(echo.Args) != 3 || echo.Args[0] != "a" || echo.Args[1] != 2.0 || echo.Args[2] != true {
		t.Fatalf("echo = %+v", echo)
	}
}

func TestRunManyArguments(t *testing.T) {
	// Small arguments share a buffer inside the call, others have their
	// own: every one must arrive in its place, with both serializers, and
	// a broadcast sends the same ones to every worker.
	long := strings.Repeat("é", 300)
	args := []any{1, long, "b", []byte("bytes"), 2.5, true, map[string]int{"k": 7}, -3}
	want := []any{1.0, long, "b", "Ynl0ZXM=", 2.5, true, map[string]any{"k": 7.0}, -3.0}
	for _, ser := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		t.Run(ser.Name(), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 2, Serializer: ser})
			for n := range len(args) + 1 {
				r, err := f.Run(ctx(t), args[:n]...)
				var echo fixturetypes.Echo
				if err == nil {
					err = r.Decode(&echo)
				}
				if ser == serializer.JSON && (err != nil || !reflect.DeepEqual(echo.Args, want[:n]) && n > 0) {
					t.Fatalf("%s, %d arguments: %+v, %v", ser.Name(), n, echo.Args, err)
				}
				if err != nil || len(echo.Args) != n {
					t.Fatalf("%s, %d arguments: %+v, %v", ser.Name(), n, echo.Args, err)
				}
			}
			replies, err := f.Broadcast(ctx(t), args...)
			if err != nil || len(replies) != 2 {
				t.Fatalf("broadcast: %v, %v", replies, err)
			}
			for _, rep := range replies {
				var echo fixturetypes.Echo
				if err := rep.Result.Decode(&echo); err != nil || len(echo.Args) != len(args) {
					t.Fatalf("broadcast reply %+v: %+v, %v", rep, echo, err)
				}
			}
		})
	}
}

func TestRunMethodAndCall(t *testing.T) {
	f := newFarm(t, farm.Config{})
	r, err := f.RunMethod(ctx(t), "add", 1, 2, 3)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := r.Decode(&n); err != nil || n != 6 {
		t.Fatalf("decode = %d, %v", n, err)
	}
	if string(r.Bytes()) != "6" {
		t.Fatalf("Bytes = %q", r.Bytes())
	}
	// A function without a result.
	r, err = f.RunMethod(ctx(t), "print", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Decode(&n); !errors.Is(err, farm.ErrNoResult) {
		t.Fatalf("Decode of no result = %v", err)
	}
}

func TestFutures(t *testing.T) {
	f := newFarm(t, farm.Config{MaxConcurrentCallsPerWorker: 64})
	const n = 20000
	futures := make([]*farm.Future, n)
	for i := range futures {
		futures[i] = f.Go(ctx(t), "add", i, 1, 1)
	}
	for i, fu := range futures {
		if i%2 == 0 {
			<-fu.Done()
		}
		r, err := fu.Wait(ctx(t))
		if err != nil {
			t.Fatal(err)
		}
		var got int
		if err := r.Decode(&got); err != nil || got != i+2 {
			t.Fatalf("call %d = %d, %v", i, got, err)
		}
	}
	st := f.Stats()
	if st.Succeeded != n || st.Queued != 0 || st.InFlight != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestFutureDone(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	// Asked for before the answer: open, the same channel each time, closed
	// by the answer; many waiters at once, each way.
	fu := f.Go(ctx(t), "sleep", 100)
	done := fu.Done()
	if fu.Done() != done {
		t.Fatal("Done returned two channels")
	}
	select {
	case <-done:
		t.Fatal("Done closed before the answer")
	default:
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if i%2 == 0 {
				<-fu.Done()
			}
			if _, err := fu.Result(); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	select {
	case <-done:
	default:
		t.Fatal("Done still open after the answer")
	}
	// Asked for after the answer, or of a call refused at once: closed.
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(context.Background())
	cancel()
	for _, fu := range []*farm.Future{fu, f.Go(c, "add", 1, 2, 3)} {
		select {
		case <-fu.Done():
		default:
			t.Fatal("Done of an answered call is open")
		}
	}
}

func TestFutureWaitContext(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	fu := f.Go(ctx(t), "sleep", 200)
	c, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if _, err := fu.Wait(c); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v", err)
	}
	// The call itself goes on.
	if _, err := fu.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
}

func TestDispatchSpreads(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	pids := map[int]int{}
	var futures []*farm.Future
	for range 20 { // all submitted long before the first ends
		futures = append(futures, f.Go(ctx(t), "sleep", 300))
	}
	for _, fu := range futures {
		r, err := fu.Result()
		if err != nil {
			t.Fatal(err)
		}
		var pid int
		_ = r.Decode(&pid)
		pids[pid]++
	}
	if len(pids) != 2 {
		t.Fatalf("calls went to %d workers: %v", len(pids), pids)
	}
	for pid, n := range pids {
		if n != 10 {
			t.Errorf("worker %d got %d calls, want 10 (least pending)", pid, n)
		}
	}
}

func TestPerWorkerCap(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 2, KillTimeout: 50 * time.Millisecond})
	for range 6 {
		f.Go(ctx(t), "block")
	}
	testutil.Eventually(t, 5*time.Second, "4 calls in flight", func() bool {
		st := f.Stats()
		return st.InFlight == 4 && st.Queued == 2
	})
	st := f.Stats()
	for _, w := range st.Workers {
		if w.InFlight != 2 {
			t.Errorf("worker %d has %d in flight, want 2", w.Slot, w.InFlight)
		}
	}
}

func TestMaxConcurrentCalls(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCalls: 3, KillTimeout: 50 * time.Millisecond})
	var held []*farm.Future
	for range 3 {
		held = append(held, f.Go(ctx(t), "sleep", 300))
	}
	_, err := f.RunMethod(ctx(t), "add", 1, 2, 3)
	if !errors.Is(err, farm.ErrMaxConcurrentCalls) {
		t.Fatalf("4th call = %v, want ErrMaxConcurrentCalls", err)
	}
	if st := f.Stats(); st.Refused != 1 || st.Retried != 0 {
		t.Fatalf("stats = %+v", st)
	}
	for _, fu := range held {
		if _, err := fu.Result(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.RunMethod(ctx(t), "add", 1, 2, 3); err != nil {
		t.Fatalf("after the others finished: %v", err)
	}
}

func TestBroadcast(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 3})
	replies, err := f.BroadcastMethod(ctx(t), "pid")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for i, r := range replies {
		var pid int
		if err := r.Result.Decode(&pid); err != nil {
			t.Fatal(err)
		}
		if r.Slot != i || r.PID != pid || seen[pid] {
			t.Fatalf("reply %d = %+v (pid %d), seen %v", i, r, pid, seen)
		}
		seen[pid] = true
	}
	if len(seen) != 3 {
		t.Fatalf("broadcast reached %d workers", len(seen))
	}
	// Failures are attributed to each worker.
	replies, err = f.BroadcastMethod(ctx(t), "fail", "permanent")
	if err == nil || len(replies) != 3 {
		t.Fatalf("broadcast of failures = %v, %v", replies, err)
	}
	for _, r := range replies {
		if !errors.Is(r.Err, farm.ErrPermanent) || r.PID == 0 {
			t.Fatalf("reply = %+v", r)
		}
	}
}

// A broadcast with a context that has ended runs nothing and counts no
// call, as a call with it.
func TestBroadcastEndedContext(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	c, cancel := context.WithCancel(context.Background())
	cancel()
	for range 20 {
		replies, err := f.BroadcastMethod(c, "setState", "from-ended")
		if !errors.Is(err, context.Canceled) || replies != nil {
			t.Fatalf("BroadcastMethod with an ended context = %v, %v", replies, err)
		}
	}
	if st := f.Stats(); st.Submitted != 0 {
		t.Fatalf("Submitted = %d, want 0", st.Submitted)
	}
	replies, err := f.BroadcastMethod(ctx(t), "getState")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range replies {
		var st fixturetypes.State
		if err := r.Result.Decode(&st); err != nil {
			t.Fatal(err)
		}
		if st.State == "from-ended" {
			t.Fatalf("slot %d ran the broadcast of the ended context: %+v", r.Slot, st)
		}
	}
}

func TestBroadcastDefaultMethod(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 2})
	replies, err := f.Broadcast(ctx(t), "init")
	if err != nil || len(replies) != 2 {
		t.Fatalf("Broadcast = %v, %v", replies, err)
	}
}

func TestBlockingCallsUnderChurn(t *testing.T) {
	// The blocking calls recycle their call records. Mixed with calls that
	// are cancelled while queued or running, and attempts that time out
	// (their timers and context watches outlive the answer), every answer
	// must still reach its own caller; -race checks the hand-overs.
	f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 4, Timeout: 100 * time.Millisecond, MaxRetries: 1})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := range 16 {
		wg.Go(func() {
			for i := range 40 {
				n := g*1000 + i
				switch i % 8 {
				case 0, 1, 2, 3, 4, 5:
					v, err := farm.Call[int](ctx(t), f, "add", n, 1, 2)
					if err != nil || v != n+3 {
						errs <- fmt.Errorf("add(%d, 1, 2) = %d, %v", n, v, err)
						return
					}
				case 6: // cancelled while queued or running
					c, cancel := context.WithTimeout(ctx(t), time.Duration(i%3)*time.Millisecond)
					_, err := farm.Call[int](c, f, "sleep", 5)
					cancel()
					if err != nil && !errors.Is(err, context.DeadlineExceeded) {
						errs <- fmt.Errorf("sleep cancelled: %v", err)
						return
					}
				case 7: // times out in the worker, is retried once, fails
					_, err := farm.Call[int](ctx(t), f, "sleep", 300)
					var te *farm.TimeoutError
					if !errors.As(err, &te) {
						errs <- fmt.Errorf("sleep past Timeout: %v, want a *TimeoutError", err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// With CBOR a raw []byte argument counts against MaxMessageSize at its
// CBOR size (header and bytes), not at the base64 size JSON would give it.
func TestCBORBytesSizedAsCBOR(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Serializer: serializer.CBOR, MaxMessageSize: 1 << 20})
	n, err := farm.Call[int](ctx(t), f, "size", make([]byte, 800<<10)) // 1.07 MB in base64
	if err != nil || n != 800<<10 {
		t.Fatalf("size = %d, %v", n, err)
	}
	if _, err := f.RunMethod(ctx(t), "size", make([]byte, 1<<20)); !errors.Is(err, farm.ErrTooLarge) {
		t.Fatalf("1 MiB: %v, want ErrTooLarge", err)
	}
}
