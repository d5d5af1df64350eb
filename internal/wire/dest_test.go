package wire

import (
	"bytes"
	"sync"
	"testing"
)

// A Dest is filled once, in place, by the answer of the attempt it is
// armed for, when it has room; never after Return.
func TestDest(t *testing.T) {
	var none *Dest
	none.Arm(1)
	if _, ok := none.fill(1, []byte("x")); ok {
		t.Fatal("a nil Dest was filled")
	}
	base := append(make([]byte, 0, 8), "ab"...)
	d := NewDest(base)
	if _, ok := d.fill(1, []byte("c")); ok {
		t.Fatal("a Dest armed for no attempt was filled")
	}
	d.Arm(2)
	if _, ok := d.fill(1, []byte("c")); ok {
		t.Fatal("a Dest armed for attempt 2 was filled by attempt 1")
	}
	if _, ok := d.fill(2, []byte("toolong")); ok {
		t.Fatal("a Dest without room for the result was filled")
	}
	got, ok := d.fill(2, []byte("cde"))
	if !ok || string(got) != "cde" || &got[0] != &base[:3][2] {
		t.Fatalf("fill = %q, %v; want cde in base's memory", got, ok)
	}
	if _, ok := d.fill(2, []byte("f")); ok {
		t.Fatal("a Dest was filled twice")
	}
	d = NewDest(make([]byte, 0, 8))
	d.Arm(3)
	d.Return()
	if _, ok := d.fill(3, []byte("x")); ok {
		t.Fatal("a returned Dest was filled")
	}
}

// Once Return returns, the buffer is not written: a fill that races it
// writes before Return returns or not at all (the race detector watches).
func TestDestReturnRace(t *testing.T) {
	src := bytes.Repeat([]byte{1}, 64<<10)
	for range 100 {
		buf := make([]byte, 0, len(src))
		d := NewDest(buf)
		d.Arm(7)
		var wg sync.WaitGroup
		wg.Go(func() { d.fill(7, src) })
		d.Return()
		buf = buf[:cap(buf)]
		buf[0] = 2 // the caller's own write, after Return
		wg.Wait()
	}
}

// A result in shared memory goes into its call's Dest when it fits, and
// into a slice of its own when it does not, when the Dest was returned or
// armed for another attempt, or when the reply is not a raw result.
func TestArenaSettleIntoDest(t *testing.T) {
	a := newTestArena(8<<20, map[string]string{"render": "func(int) []uint8"})
	a.methods["render"].last.Store(1 << 20)
	want := bytes.Repeat([]byte{7}, 200<<10)
	bufs := make([][]byte, 6)
	for i := range bufs {
		bufs[i] = make([]byte, 0, 1<<20)
	}
	bufs[1] = make([]byte, 0, 1<<10)
	var items []Item
	for i := range bufs {
		d := NewDest(bufs[i])
		switch i {
		case 2:
			d.Return()
		case 3:
			d.Arm(99) // another attempt's
		default:
			d.Arm(uint64(i + 1))
		}
		items = append(items, Item{Req: Request{ID: uint64(i + 1), Method: "render", Dest: d}})
	}
	a.Place(items)
	var rs []Response
	for i, it := range items {
		if it.Req.ShmSize == 0 {
			t.Fatalf("call %d got no block", it.Req.ID)
		}
		copy(a.mem[it.Req.ShmOffset:], want)
		r := Response{ID: it.Req.ID, ShmResult: uint64(len(want)), RawResult: i != 4}
		rs = append(rs, r)
	}
	a.Settle(rs)
	for i, r := range rs {
		if !bytes.Equal(r.Result, want) {
			t.Fatalf("call %d: %d bytes of result", r.ID, len(r.Result))
		}
		inDest := &r.Result[0] == &bufs[i][:1][0]
		if want := i == 0 || i == 5; inDest != want {
			t.Fatalf("call %d: result in the Dest's buffer: %v, want %v", r.ID, inDest, want)
		}
	}
	if a.InUse() != 0 {
		t.Fatalf("%d bytes of blocks left", a.InUse())
	}
}
