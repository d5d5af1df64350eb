package farm

import (
	"context"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// hintCall runs one call of method through h: a buffer if h gives one,
// then a result of n bytes, raw, that comes through shared memory into the
// buffer when viaShm says so and it fits; it returns the result the caller
// gets and whether there was a buffer.
func hintCall(h *resultHints, method string, n int, viaShm bool) ([]byte, bool) {
	hint, d := h.dest(context.Background(), method)
	result := make([]byte, n)
	if d != nil && viaShm {
		if b, ok := fillForTest(d, n); ok {
			result = b
		}
	}
	result = h.learn(hint, method, d, result, true)
	if d != nil {
		d.Return()
		h.release()
	}
	return result, d != nil
}

// A method gets a buffer once it returned a big raw result, none after a
// small or an encoded one; buffers that save nothing maxResultWaste times
// in a row stop, but for one call in resultRetry, which starts them again
// when its buffer serves.
func TestResultHints(t *testing.T) {
	h := newResultHints(10)
	const n = 64 << 10
	if _, ok := hintCall(h, "m", n, true); ok {
		t.Fatal("a buffer before any result")
	}
	if _, ok := hintCall(h, "m", 10, true); !ok {
		t.Fatal("no buffer after a big result")
	}
	if _, ok := hintCall(h, "m", n, true); ok {
		t.Fatal("a buffer after a small result")
	}
	h.learn(nil, "e", nil, make([]byte, n), false)
	if _, d := h.dest(context.Background(), "e"); d != nil {
		t.Fatal("a buffer after an encoded result")
	}
	for i := range 3 {
		b, ok := hintCall(h, "m", n, true)
		if !ok || len(b) != n || cap(b) < n {
			t.Fatalf("call %d: buffer %v, result %d bytes", i, ok, len(b))
		}
	}
	if h.out.Load() != 0 {
		t.Fatalf("%d buffers still out", h.out.Load())
	}
	// Results over the socket: 4 wasted buffers, then one call in 64.
	buffers := 0
	for range 4 + 2*resultRetry {
		if _, ok := hintCall(h, "m", n, false); ok {
			buffers++
		}
	}
	if buffers != 4+2 {
		t.Fatalf("%d buffers over %d calls whose results never came through shared memory", buffers, 4+2*resultRetry)
	}
	for range resultRetry { // the retry's buffer serves: buffers again
		hintCall(h, "m", n, true)
	}
	if _, ok := hintCall(h, "m", n, true); !ok {
		t.Fatal("no buffer after one that served")
	}
	// A result much smaller than its buffer gets a slice of its own size.
	hintCall(h, "k", 1<<20, true)
	b, ok := hintCall(h, "k", 100<<10, true)
	if !ok || len(b) != 100<<10 || cap(b) > 200<<10 {
		t.Fatalf("a small result in a big buffer: buffer %v, len %d, cap %d", ok, len(b), cap(b))
	}
	// No more buffers at once than the limit; none for a done context.
	hintCall(h, "k", 1<<20, true)
	for range 10 {
		if _, d := h.dest(context.Background(), "k"); d == nil {
			t.Fatal("no buffer under the limit")
		}
	}
	if _, d := h.dest(context.Background(), "k"); d != nil {
		t.Fatal("a buffer over the limit")
	}
	for range 10 {
		h.release()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, d := h.dest(ctx, "k"); d != nil {
		t.Fatal("a buffer for a done context")
	}
}

// The methods learnt are bounded: a worker that answers any name cannot
// grow them without end.
func TestResultHintsBounded(t *testing.T) {
	h := newResultHints(10)
	for i := range 2 * maxResultMethods {
		h.learn(nil, string(rune('a'+i%26))+string(rune(i)), nil, make([]byte, wire.ShmMin), true)
	}
	if n := h.methods.Load(); n != maxResultMethods {
		t.Fatalf("%d methods learnt, want %d", n, maxResultMethods)
	}
}

// fillForTest fills d with n bytes as a reply of its armed request would,
// through an arena that knows the method's results are n bytes.
func fillForTest(d *wire.Dest, n int) ([]byte, bool) {
	a := wire.NewArena(make([]byte, 4<<20), func([]byte) {}, map[string]string{"k": "func() []uint8"}, 1<<30)
	a.Place([]wire.Item{{Req: wire.Request{ID: 100, Method: "k"}}})
	a.Settle([]wire.Response{{ID: 100, Result: make([]byte, n), RawResult: true}}) // learns the size
	it := []wire.Item{{Req: wire.Request{ID: 1, Method: "k", Dest: d}}}
	a.Place(it)
	d.Arm(1)
	rs := []wire.Response{{ID: 1, ShmResult: uint64(n), RawResult: true}}
	a.Settle(rs)
	held, _ := d.Holds(rs[0].Result)
	return rs[0].Result, held
}

// Through real workers: the buffers of a method whose results come
// through shared memory serve (none wasted), and over the socket they stop.
func TestResultHintsWorkers(t *testing.T) {
	bin := testutil.MustBuild(t, testutil.Worker)
	for _, c := range []struct {
		name      string
		shm       int64
		maxWasted int32
	}{
		{"shm", 0, 0},
		{"socket", SharedMemoryOff, maxResultWaste},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			// The process may hold a heap reserve: buffers all the same.
			f, err := New(WithResultBuffers(Config{Path: bin, Workers: 1, SharedMemory: c.shm, Logger: hclog.NewNullLogger()}))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Kill()
			if f.hints == nil {
				t.Fatal("the farm makes no result buffers")
			}
			const n = 256 << 10
			for i := range 20 {
				var b []byte
				r, err := f.RunMethod(ctx, "bytes", n)
				if err == nil {
					err = r.Decode(&b)
				}
				if err != nil || len(b) != n {
					t.Fatalf("call %d: %d bytes, %v", i, len(b), err)
				}
			}
			// Once learnt (the first call), each result is in the buffer
			// made for it.
			if served := f.hints.served.Load(); c.shm == 0 && served < 18 || c.shm != 0 && served != 0 {
				t.Fatalf("%d of 20 results in buffers made for them", served)
			}
			v, ok := f.hints.m.Load("bytes")
			if !ok {
				t.Fatal("nothing learnt of the method's results")
			}
			hint := v.(*resultHint)
			if hint.size.Load() != n || hint.wasted.Load() != c.maxWasted || f.hints.out.Load() != 0 {
				t.Fatalf("size %d, wasted %d, out %d; want %d, %d, 0", hint.size.Load(), hint.wasted.Load(), f.hints.out.Load(), n, c.maxWasted)
			}
			// A failed call, a call whose context ends while it runs and
			// one that panics in its arguments' encoding give their
			// buffers back, and teach nothing.
			hint.wasted.Store(0)
			if _, err := f.RunMethod(ctx, "bytes", "lots"); err == nil {
				t.Fatal("bytes(\"lots\") did not fail")
			}
			short, stop := context.WithTimeout(ctx, 20*time.Millisecond)
			_, err = f.RunMethod(short, "echoSlow", 200, []byte("x"))
			stop()
			if err == nil {
				t.Fatal("a call past its deadline did not fail")
			}
			func() {
				defer func() { _ = recover() }()
				_, _ = f.RunMethod(ctx, "bytes", panicky{})
			}()
			if hint.size.Load() != n || f.hints.out.Load() != 0 {
				t.Fatalf("after failures: size %d, out %d; want %d, 0", hint.size.Load(), f.hints.out.Load(), n)
			}
		})
	}
}

// panicky panics when it is encoded.
type panicky struct{}

func (panicky) MarshalJSON() ([]byte, error) { panic("panicky") }
