package farm_test

import (
	"errors"
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// A call's own Timeout replaces Config.Timeout, in both directions.
func TestCallTimeout(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, Timeout: 50 * time.Millisecond, MaxRetries: farm.NoRetries})
	// Longer than the farm's: a 300 ms sleep ends well.
	if _, err := f.With(farm.CallOptions{Timeout: 20 * time.Second}).RunMethod(ctx(t), "sleep", 300); err != nil {
		t.Fatalf("sleep 300 ms with a 20 s timeout: %v", err)
	}
	// The farm's own calls keep Config.Timeout.
	_, err := f.RunMethod(ctx(t), "sleep", 20000)
	var te *farm.TimeoutError
	if !errors.As(err, &te) || te.Timeout != 50*time.Millisecond {
		t.Fatalf("farm call: %v, want a *TimeoutError of 50ms", err)
	}
}

// A call's Timeout applies on a farm without one.
func TestCallTimeoutShorter(t *testing.T) {
	g := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries})
	_, err := g.With(farm.CallOptions{Timeout: 100 * time.Millisecond}).RunMethod(ctx(t), "sleep", 20000)
	var te *farm.TimeoutError
	if !errors.As(err, &te) || te.Timeout != 100*time.Millisecond || te.Attempt != 1 {
		t.Fatalf("call with a 100 ms timeout: %v, want a *TimeoutError of 100ms, attempt 1", err)
	}
}

// A call's own MaxRetries replaces Config.MaxRetries; NoRetries turns them
// off for that call only.
func TestCallMaxRetries(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: 5})
	// NoRetries: the raw error of the first attempt.
	_, err := f.With(farm.CallOptions{MaxRetries: farm.NoRetries}).RunMethod(ctx(t), "panic", "boom")
	var mr *farm.MaxRetriesError
	if errors.As(err, &mr) || !errors.Is(err, farm.ErrPanic) {
		t.Fatalf("NoRetries: %v, want the raw panic error", err)
	}
	if st := f.Stats(); st.Retried != 0 {
		t.Fatalf("NoRetries: retried = %d", st.Retried)
	}
	// One retry: two attempts.
	_, err = f.With(farm.CallOptions{MaxRetries: 1}).RunMethod(ctx(t), "panic", "boom")
	if !errors.As(err, &mr) || mr.Attempts != 2 || !errors.Is(err, farm.ErrPanic) {
		t.Fatalf("MaxRetries 1: %v, want a MaxRetriesError after 2 attempts", err)
	}
	// Zero: the farm's five.
	_, err = f.With(farm.CallOptions{}).RunMethod(ctx(t), "panic", "boom")
	if !errors.As(err, &mr) || mr.Attempts != 6 {
		t.Fatalf("MaxRetries 0: %v, want a MaxRetriesError after 6 attempts", err)
	}
	if st := f.Stats(); st.Retried != 6 {
		t.Fatalf("retried = %d, want 1 + 5", st.Retried)
	}
}

func TestCallOptionsInvalid(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	for _, o := range []farm.CallOptions{{Timeout: -time.Second}, {MaxRetries: -2}} {
		c := f.With(o)
		if _, err := c.Run(ctx(t)); !errors.Is(err, farm.ErrInvalidOptions) {
			t.Errorf("%+v: Run: %v, want ErrInvalidOptions", o, err)
		}
		if _, err := c.Go(ctx(t), "pid").Result(); !errors.Is(err, farm.ErrInvalidOptions) {
			t.Errorf("%+v: Go: %v, want ErrInvalidOptions", o, err)
		}
		if _, err := farm.Call[int](ctx(t), c, "pid"); !errors.Is(err, farm.ErrInvalidOptions) {
			t.Errorf("%+v: Call: %v, want ErrInvalidOptions", o, err)
		}
	}
	// A Caller of a farm New did not make.
	var zero *farm.Farm
	if _, err := zero.With(farm.CallOptions{}).Run(ctx(t)); !errors.Is(err, farm.ErrNotStarted) {
		t.Errorf("nil farm: %v, want ErrNotStarted", err)
	}
}

// Call and GoCall take a Caller as they take a Farm.
func TestCallerTyped(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	c := f.With(farm.CallOptions{Timeout: 10 * time.Second})
	if n, err := farm.Call[int](ctx(t), c, "add", 1, 2, 3); err != nil || n != 6 {
		t.Fatalf("Call: %d, %v", n, err)
	}
	if n, err := farm.GoCall[int](ctx(t), c, "add", 1, 2, 4).Result(); err != nil || n != 7 {
		t.Fatalf("GoCall: %d, %v", n, err)
	}
}
