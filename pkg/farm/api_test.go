package farm_test

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/plugin"
)

// The methods of a Farm that New did not make return ErrNotStarted.
func TestZeroFarm(t *testing.T) {
	for name, f := range map[string]*farm.Farm{"zero": {}, "nil": nil} {
		if _, err := f.Run(context.Background(), 1); !errors.Is(err, farm.ErrNotStarted) {
			t.Errorf("%s: Run: %v", name, err)
		}
		if _, err := f.Go(context.Background(), "add", 1, 2, 3).Result(); !errors.Is(err, farm.ErrNotStarted) {
			t.Errorf("%s: Go: %v", name, err)
		}
		if _, err := farm.GoCall[int](context.Background(), f, "add").Result(); !errors.Is(err, farm.ErrNotStarted) {
			t.Errorf("%s: GoCall: %v", name, err)
		}
		if _, err := f.Broadcast(context.Background()); !errors.Is(err, farm.ErrNotStarted) {
			t.Errorf("%s: Broadcast: %v", name, err)
		}
		if err := f.Shutdown(context.Background()); !errors.Is(err, farm.ErrNotStarted) {
			t.Errorf("%s: Shutdown: %v", name, err)
		}
		f.Kill()
		if st := f.Stats(); st.Submitted != 0 || len(st.Workers) != 0 {
			t.Errorf("%s: Stats: %+v", name, st)
		}
	}
}

// DefaultMethod names what Run calls, without importing pkg/plugin.
func TestDefaultMethodName(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	a, errA := f.Run(ctx(t), "x")
	b, errB := f.RunMethod(ctx(t), farm.DefaultMethod, "x")
	if errA != nil || errB != nil || string(a.Bytes()) != string(b.Bytes()) {
		t.Fatalf("Run %s %v, RunMethod(DefaultMethod) %s %v", a.Bytes(), errA, b.Bytes(), errB)
	}
}

// A TypedFuture decodes its result; Wait is bounded by its ctx.
func TestGoCall(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	if n, err := farm.GoCall[int](ctx(t), f, "add", 1, 2, 3).Result(); err != nil || n != 6 {
		t.Fatalf("GoCall add = %d, %v", n, err)
	}
	slow := farm.GoCall[int](ctx(t), f, "sleep", 5000)
	wctx, cancel := context.WithTimeout(ctx(t), 20*time.Millisecond)
	defer cancel()
	if _, err := slow.Wait(wctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait: %v", err)
	}
	select {
	case <-slow.Done():
		t.Fatal("the call ended with the wait")
	default:
	}
}

// A WorkerExitError unwraps to its cause; a TimeoutError carries its
// Timeout as a time.Duration.
func TestErrorFields(t *testing.T) {
	cause := syscall.ECONNRESET
	var err error = &farm.WorkerExitError{Slot: 1, PID: 2, Cause: cause}
	if !errors.Is(err, farm.ErrWorkerTerminated) || !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("WorkerExitError: Is terminated %v, Is cause %v", errors.Is(err, farm.ErrWorkerTerminated), errors.Is(err, cause))
	}
	f := newFarm(t, farm.Config{Workers: 1, Timeout: 30 * time.Millisecond, MaxRetries: farm.NoRetries})
	_, err = f.RunMethod(ctx(t), "sleep", 5000)
	var te *farm.TimeoutError
	if !errors.As(err, &te) || te.Timeout != 30*time.Millisecond {
		t.Fatalf("err = %v", err)
	}
}

// A call whose method name or argument count would not fit a frame's
// envelope is refused with ErrTooLarge, and no worker is harmed.
func TestCallEnvelopeBounded(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	long := make([]byte, 5000)
	for i := range long {
		long[i] = 'm'
	}
	if _, err := f.RunMethod(ctx(t), string(long)); !errors.Is(err, farm.ErrTooLarge) {
		t.Errorf("long method name: %v", err)
	}
	args := make([]any, 5000)
	for i := range args {
		args[i] = i
	}
	if _, err := f.RunMethod(ctx(t), "add", args...); !errors.Is(err, farm.ErrTooLarge) {
		t.Errorf("5000 arguments: %v", err)
	}
	if st := f.Stats(); st.WorkersCrashed != 0 || st.Submitted != 0 {
		t.Errorf("stats: crashed %d, submitted %d", st.WorkersCrashed, st.Submitted)
	}
}

// The default method has one name on the host, in the SDK and on the wire.
func TestDefaultMethodNamesAgree(t *testing.T) {
	names := []string{farm.DefaultMethod, plugin.DefaultMethod, wire.DefaultMethod}
	for _, n := range names {
		if n != names[0] {
			t.Fatalf("farm %q, plugin %q, wire %q", names[0], names[1], names[2])
		}
	}
}
