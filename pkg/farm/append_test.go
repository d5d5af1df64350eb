package farm_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
)

// AppendCall appends a []byte result to dst: in dst's memory when it has
// room, in new memory when it has none, with dst's contents kept; through
// shared memory, the socket or the gRPC stream, and through a Caller.
func TestAppendCall(t *testing.T) {
	t.Run("shm", func(t *testing.T) { testAppendCall(t, farm.Config{Workers: 2}) })
	t.Run("socket", func(t *testing.T) { testAppendCall(t, farm.Config{Workers: 1, SharedMemory: farm.SharedMemoryOff}) })
	t.Run("grpc stream", func(t *testing.T) {
		t.Setenv(wire.EnvDataPlane, wire.DataPlaneGRPC)
		testAppendCall(t, farm.Config{Workers: 1})
	})
}

func testAppendCall(t *testing.T, cfg farm.Config) {
	const n = 256 << 10
	f := newFarm(t, cfg)
	for _, c := range []struct {
		name    string
		inv     farm.Invoker
		dst     []byte
		inPlace bool
	}{
		{"room", f, make([]byte, 0, n), true},
		{"prefix kept", f, append(make([]byte, 0, n+3), "abc"...), true},
		{"no room", f, make([]byte, 0, n-1), false},
		{"nil", f, nil, false},
		{"caller", f.With(farm.CallOptions{Timeout: time.Minute}), make([]byte, 0, n), true},
	} {
		t.Run(c.name, func(t *testing.T) {
			for seed := range 5 {
				prefix := bytes.Clone(c.dst)
				got, err := farm.AppendCall(ctx(t), c.inv, c.dst, "pattern", n, seed)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(got[:len(prefix)], prefix) || !bytes.Equal(got[len(prefix):], pattern(n, seed)) {
					t.Fatalf("seed %d: AppendCall returned %d bytes, not the prefix and the pattern", seed, len(got))
				}
				if inPlace := cap(c.dst) > len(c.dst) && &got[0] == &c.dst[:1][0]; inPlace != c.inPlace {
					t.Fatalf("seed %d: result in dst's memory: %v, want %v", seed, inPlace, c.inPlace)
				}
			}
		})
	}
	if _, err := farm.AppendCall(ctx(t), f.With(farm.CallOptions{Timeout: -1}), nil, "pattern", n, 1); !errors.Is(err, farm.ErrInvalidOptions) {
		t.Fatalf("a bad Caller: err = %v, want ErrInvalidOptions", err)
	}
	if _, err := farm.AppendCall(ctx(t), f, nil, "nosuch"); err == nil {
		t.Fatal("an unknown method: no error")
	}
}

// A caller that reuses its buffer allocates far less than the results'
// bytes: they are copied from shared memory into the buffer.
func TestAppendCallAllocates(t *testing.T) {
	const n, calls = 1 << 20, 50
	f := newFarm(t, farm.Config{Workers: 1})
	buf := make([]byte, 0, n)
	var err error
	for range 5 { // the arena learns the result's size
		if buf, err = farm.AppendCall(ctx(t), f, buf[:0], "bytes", n); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		if buf, err = farm.AppendCall(ctx(t), f, buf[:0], "bytes", n); err != nil || len(buf) != n {
			t.Fatalf("AppendCall = %d bytes, %v", len(buf), err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > n/8 {
		t.Fatalf("%d bytes allocated per call of a %d-byte result into a reused buffer", per, n)
	}
}

// dst is not written once AppendCall returns: the answer of a call that
// timed out, which the worker sends later, goes elsewhere (the race
// detector watches a writer of dst's first half; the second half is
// checked once the answer came).
func TestAppendCallLateAnswer(t *testing.T) {
	const n = 64 << 10
	f := newFarm(t, farm.Config{Workers: 1, MaxConcurrentCallsPerWorker: 1})
	payload := pattern(n, 3)
	pid, err := farm.Call[int](ctx(t), f, "pid")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := farm.AppendCall(ctx(t), f, make([]byte, 0, n), "echoSlow", 0, payload); err != nil {
		t.Fatal(err) // the arena learns the result's size
	}
	dst := make([]byte, 0, n)
	c, cancel := context.WithTimeout(ctx(t), 20*time.Millisecond)
	defer cancel()
	got, err := farm.AppendCall(c, f, dst, "echoSlow", 150, payload)
	if !errors.Is(err, context.DeadlineExceeded) || len(got) != 0 {
		t.Fatalf("AppendCall = %d bytes, %v; want none and DeadlineExceeded", len(got), err)
	}
	full := dst[:n]
	for i := n / 2; i < n; i++ {
		full[i] = 0xAA
	}
	// The next call runs on the worker after the late answer (one call at
	// a time, the abandoned one counted until its answer comes).
	done := make(chan error, 1)
	go func() {
		p, err := farm.Call[int](ctx(t), f, "pid")
		if err == nil && p != pid {
			err = fmt.Errorf("the worker was replaced (pid %d, then %d): no late answer came", pid, p)
		}
		done <- err
	}()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			for j := n / 2; j < n; j++ {
				if full[j] != 0xAA {
					t.Fatalf("dst[%d] = %#x after the late answer: it was written", j, full[j])
				}
			}
			return
		default:
			full[i%(n/2)] = 0xAA
			if i%(n/2) == 0 {
				runtime.Gosched()
			}
		}
	}
}

// An attempt that timed out does not write its late answer into dst while
// the retry may still read it: here dst's spare capacity is the call's
// argument, and the result is the retry's echo of it.
func TestAppendCallRetryKeepsArgument(t *testing.T) {
	const n = 256 << 10
	for _, backoff := range []time.Duration{0, 150 * time.Millisecond} {
		t.Run(fmt.Sprint(backoff), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 2, MaxConcurrentCallsPerWorker: 1, RetryBackoff: backoff})
			marker := filepath.Join(t.TempDir(), "first")
			warm := filepath.Join(t.TempDir(), "warm")
			buf := pattern(n, 5)
			for range 4 { // each worker's arena learns the result's size
				if _, err := farm.AppendCall(ctx(t), f, make([]byte, 0, n), "slowFirst", warm, 0, buf); err != nil {
					t.Fatal(err)
				}
			}
			caller := f.With(farm.CallOptions{Timeout: 100 * time.Millisecond, MaxRetries: 1})
			got, err := farm.AppendCall(ctx(t), caller, buf[:0], "slowFirst", marker, 200, buf)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, pattern(n, 5)) {
				t.Fatalf("AppendCall returned %d bytes, not the argument (first byte %#x)", len(got), got[0])
			}
		})
	}
}
