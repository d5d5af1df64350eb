package wire

import (
	"bytes"
	"testing"
)

// A Dest is filled once, in place, when it has room; never after Return.
func TestDest(t *testing.T) {
	var none *Dest
	if _, ok := none.fill([]byte("x")); ok {
		t.Fatal("a nil Dest was filled")
	}
	base := append(make([]byte, 0, 8), "ab"...)
	d := NewDest(base)
	if _, ok := d.fill([]byte("toolong")); ok {
		t.Fatal("a Dest without room for the result was filled")
	}
	got, ok := d.fill([]byte("cde"))
	if !ok || string(got) != "cde" || &got[0] != &base[:3][2] {
		t.Fatalf("fill = %q, %v; want cde in base's memory", got, ok)
	}
	if _, ok := d.fill([]byte("f")); ok {
		t.Fatal("a Dest was filled twice")
	}
	d = NewDest(make([]byte, 0, 8))
	d.Return()
	if _, ok := d.fill([]byte("x")); ok {
		t.Fatal("a returned Dest was filled")
	}
}

// A result in shared memory goes into its call's Dest when it fits, and
// into a slice of its own when it does not, or when the Dest was returned.
func TestArenaSettleIntoDest(t *testing.T) {
	a := newTestArena(4<<20, map[string]string{"render": "func(int) []uint8"})
	a.methods["render"].last.Store(1 << 20)
	want := bytes.Repeat([]byte{7}, 200<<10)
	room, small, returned := make([]byte, 0, 1<<20), make([]byte, 0, 1<<10), make([]byte, 0, 1<<20)
	dRoom, dSmall, dReturned := NewDest(room), NewDest(small), NewDest(returned)
	dReturned.Return()
	items := []Item{
		{Req: Request{ID: 1, Method: "render", Dest: dRoom}},
		{Req: Request{ID: 2, Method: "render", Dest: dSmall}},
		{Req: Request{ID: 3, Method: "render", Dest: dReturned}},
	}
	a.Place(items)
	var rs []Response
	for _, it := range items {
		if it.Req.ShmSize == 0 {
			t.Fatalf("call %d got no block", it.Req.ID)
		}
		copy(a.mem[it.Req.ShmOffset:], want)
		rs = append(rs, Response{ID: it.Req.ID, ShmResult: uint64(len(want)), RawResult: true})
	}
	a.Settle(rs)
	for i, r := range rs {
		if !bytes.Equal(r.Result, want) {
			t.Fatalf("call %d: %d bytes of result", r.ID, len(r.Result))
		}
		if inDest := &r.Result[0] == &room[:1][0]; inDest != (i == 0) {
			t.Fatalf("call %d: result in the Dest's buffer: %v", r.ID, inDest)
		}
	}
	if a.InUse() != 0 {
		t.Fatalf("%d bytes of blocks left", a.InUse())
	}
}
