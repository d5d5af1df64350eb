package farm_test

import (
	"bytes"
	"runtime"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

// Call[[]byte] of big results whose sizes change from call to call gives
// each call its own bytes, through shared memory (with result buffers and
// as configured) and over the socket.
func TestCallBytesSizesChange(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  farm.Config
	}{
		{"shm", farm.WithResultBuffers(farm.Config{Workers: 2})},
		{"shm-default", farm.Config{Workers: 2}}, // none while the process holds a heap reserve
		{"socket", farm.WithResultBuffers(farm.Config{Workers: 1, SharedMemory: farm.SharedMemoryOff})},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFarm(t, c.cfg)
			var kept [][]byte
			for i, n := range []int{100 << 10, 100 << 10, 300 << 10, 200 << 10, 1000, 200 << 10, 200<<10 + 1, 64 << 10} {
				b, err := farm.Call[[]byte](ctx(t), f, "pattern", n, i)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(b, pattern(n, i)) {
					t.Fatalf("call %d: %d bytes, not pattern(%d, %d)", i, len(b), n, i)
				}
				kept = append(kept, b)
			}
			for i, b := range kept { // no result was overwritten by a later one
				if !bytes.Equal(b, pattern(len(b), i)) {
					t.Fatalf("call %d's result changed after later calls", i)
				}
			}
		})
	}
}

// A method whose big results never come through shared memory stops
// getting a buffer made for them: after a few calls, none is made (the
// socket path itself allocates two results' bytes per call: the frame and
// the reply's copy of it; an unused buffer would add a third).
func TestCallBytesNoSharedMemory(t *testing.T) {
	const n, calls = 256 << 10, 20
	f := newFarm(t, farm.WithResultBuffers(farm.Config{Workers: 1, SharedMemory: farm.SharedMemoryOff}))
	for range 10 {
		if _, err := farm.Call[[]byte](ctx(t), f, "bytes", n); err != nil {
			t.Fatal(err)
		}
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for range calls {
		if b, err := farm.Call[[]byte](ctx(t), f, "bytes", n); err != nil || len(b) != n {
			t.Fatalf("Call = %d bytes, %v", len(b), err)
		}
	}
	runtime.ReadMemStats(&after)
	if per := (after.TotalAlloc - before.TotalAlloc) / calls; per > n*5/2 {
		t.Fatalf("%d bytes allocated per call of a %d-byte result over the socket", per, n)
	}
}
