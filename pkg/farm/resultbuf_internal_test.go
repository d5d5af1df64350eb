package farm

import (
	"testing"

	"github.com/workestrator/workestrator/internal/wire"
)

// A method gets a buffer once it returned a big raw result, none after a
// small one, and none once buffers for results that fitted went unused
// maxResultMisses times in a row.
func TestResultHints(t *testing.T) {
	var h resultHints
	const n = 64 << 10
	if h.dest("m") != nil {
		t.Fatal("a buffer before any result")
	}
	h.learn("m", nil, make([]byte, 10), true)
	if h.dest("m") != nil {
		t.Fatal("a buffer after a small result")
	}
	h.learn("m", nil, make([]byte, n), false)
	if h.dest("m") != nil {
		t.Fatal("a buffer after an encoded result")
	}
	h.learn("m", nil, make([]byte, n), true)
	for i := range maxResultMisses {
		d := h.dest("m")
		if d == nil {
			t.Fatalf("no buffer after %d misses", i)
		}
		h.learn("m", d, make([]byte, n), true) // not in d: a miss
	}
	if h.dest("m") != nil {
		t.Fatalf("a buffer after %d misses in a row", maxResultMisses)
	}

	h.learn("k", nil, make([]byte, n), true)
	d := h.dest("k")
	h.learn("k", d, make([]byte, 2*n), true) // did not fit: no miss
	for range maxResultMisses - 1 {
		h.learn("k", h.dest("k"), make([]byte, 2*n), true)
	}
	d = h.dest("k")
	if d == nil {
		t.Fatal("no buffer for a result that never fitted")
	}
	got, ok := fillForTest(d, 2*n)
	if !ok {
		t.Fatal("the buffer has no room for the size learnt")
	}
	h.learn("k", d, got, true) // a hit
	h.learn("k", nil, make([]byte, 1), true)
	if h.dest("k") != nil {
		t.Fatal("a buffer after a small result")
	}
}

// fillForTest fills d with n bytes as a reply of its armed request would.
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
