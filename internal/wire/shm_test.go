package wire

import (
	"bytes"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

func TestReturnsBytes(t *testing.T) {
	for sig, want := range map[string]bool{
		"func([]uint8) []uint8":                             true,
		"func(context.Context, []uint8) ([]uint8, error)":   true,
		"func(func() []uint8) int":                          false,
		"func(struct { F func() }) []uint8":                 true,
		"func() [][]uint8":                                  false,
		"func() error":                                      false,
		"func(...)":                                         false,
		"func(int) (main.Image, error)":                     false,
		"func() map[string][]uint8":                         false,
		"not a signature":                                   false,
		"func(context.Context, int, string) ([]uint8, int)": true,
	} {
		if got := ReturnsBytes(sig); got != want {
			t.Errorf("ReturnsBytes(%q) = %v", sig, got)
		}
	}
}

// newTestArena is an arena over ordinary memory.
func newTestArena(size int, methods map[string]string) *Arena {
	return NewArena(make([]byte, size), func([]byte) {}, methods, 1<<30)
}

func bigReq(id uint64, method string, sizes ...int) Request {
	r := Request{ID: id, Method: method}
	for i, n := range sizes {
		r.Args = append(r.Args, bytes.Repeat([]byte{byte(id), byte(i)}, n/2))
		r.RawArgs |= 1 << i
	}
	return r
}

// The allocator gives disjoint page-aligned blocks while there is room,
// none beyond, and takes every byte back once the calls are answered,
// whatever their order.
func TestArenaAllocator(t *testing.T) {
	const size = 8 << 20
	a := newTestArena(size, nil)
	rng := rand.New(rand.NewPCG(3, 4))
	type blk struct{ off, size uint64 }
	live := map[uint64]blk{}
	var used uint64
	for id := uint64(1); id < 1000; id++ {
		if len(live) > 0 && rng.IntN(2) == 0 {
			for k := range live { // answer one
				a.Settle([]Response{{ID: k}})
				used -= live[k].size
				delete(live, k)
				break
			}
		}
		items := []Item{{Req: bigReq(id, "m", 2*(ShmMin/2+rng.IntN(512<<10)))}}
		a.Place(items)
		r := items[0].Req
		if r.ShmSize == 0 {
			if need := alignUp(uint64(len(r.Args[0]))); size-used >= need && len(a.free) == 1 {
				t.Fatalf("call %d of %d bytes got no block with %d bytes free in one extent", id, need, size-used)
			}
			continue
		}
		if r.ShmOffset%shmAlign != 0 || r.ShmSize < uint64(len(r.Args[0])) || r.ShmOffset+r.ShmSize > size {
			t.Fatalf("block [%d, +%d) for %d bytes", r.ShmOffset, r.ShmSize, len(r.Args[0]))
		}
		for k, b := range live {
			if r.ShmOffset < b.off+b.size && b.off < r.ShmOffset+r.ShmSize {
				t.Fatalf("blocks of calls %d and %d overlap", id, k)
			}
		}
		if !bytes.Equal(a.mem[r.ShmOffset:r.ShmOffset+uint64(len(r.Args[0]))], r.Args[0]) {
			t.Fatalf("call %d's argument is not in its block", id)
		}
		live[id] = blk{r.ShmOffset, r.ShmSize}
		used += r.ShmSize
		if got := a.InUse(); got != used {
			t.Fatalf("InUse = %d, want %d", got, used)
		}
	}
	for k := range live {
		a.Settle([]Response{{ID: k}})
	}
	if len(a.free) != 1 || a.free[0] != (extent{0, size}) || a.InUse() != 0 {
		t.Fatalf("free list after every call was answered: %v", a.free)
	}
}

// Small arguments stay in the frame; the small ones of a call with big
// ones too; a method that returned a big []byte gets room for the next
// result; a reply is checked against its call's block.
func TestArenaPlaceAndSettle(t *testing.T) {
	a := newTestArena(4<<20, map[string]string{"render": "func(int) []uint8", "add": "func(int, int) int"})
	items := []Item{
		{Req: bigReq(1, "add", 1000)},
		{Req: bigReq(2, "echo", ShmMin, 10, 8<<10)},
		{Cancel: 7, IsCancel: true},
		{Req: bigReq(3, "render")},
	}
	a.Place(items)
	if r := items[0].Req; r.ShmSize != 0 {
		t.Fatalf("a small call got a block: %+v", r)
	}
	if r := items[1].Req; r.ShmArgs != 0b101 || r.ShmSize != alignUp(ShmMin+8<<10) {
		t.Fatalf("call 2: args %b in a block of %d", r.ShmArgs, r.ShmSize)
	}
	if r := items[3].Req; r.ShmSize != 0 {
		t.Fatal("render got a block before its results were known")
	}
	// render answers 1 MiB on the socket: its next call gets room.
	rs := []Response{{ID: 3, Result: make([]byte, 1<<20), RawResult: true}, {ID: 2, ShmResult: alignUp(ShmMin+8<<10) + 1}}
	a.Settle(rs)
	if rs[1].Failure == nil || !strings.Contains(rs[1].Failure.Message, "beyond the call's block") || rs[1].Result != nil {
		t.Fatalf("a reply claiming more than its block: %+v", rs[1])
	}
	items = []Item{{Req: bigReq(4, "render")}, {Req: bigReq(5, "render")}}
	a.Place(items)
	r := items[0].Req
	if r.ShmSize != 1<<20 || r.ShmArgs != 0 {
		t.Fatalf("render after a 1 MiB result: block of %d", r.ShmSize)
	}
	want := bytes.Repeat([]byte{9}, 300<<10)
	copy(a.mem[r.ShmOffset:], want)
	rs = []Response{{ID: 4, ShmResult: uint64(len(want)), RawResult: true}, {ID: 99, ShmResult: 5}}
	a.Settle(rs)
	if !bytes.Equal(rs[0].Result, want) || rs[0].ShmResult != 0 || cap(rs[0].Result) > len(want)+shmAlign {
		t.Fatalf("result out of the block: %d bytes (cap %d)", len(rs[0].Result), cap(rs[0].Result))
	}
	copy(a.mem[r.ShmOffset:], "changed")
	if rs[0].Result[0] != 9 {
		t.Fatal("the result aliases the arena")
	}
	if rs[1].Failure == nil || !strings.Contains(rs[1].Failure.Message, "no block") {
		t.Fatalf("a reply for a call without a block: %+v", rs[1])
	}
	// A small result: the next call has no room reserved.
	a.Settle([]Response{{ID: 5, Result: []byte("x"), RawResult: true}})
	items = []Item{{Req: bigReq(6, "render")}}
	a.Place(items)
	if items[0].Req.ShmSize != 0 {
		t.Fatal("room reserved after a small result")
	}
	a.Close()
	a.Close()
	items = []Item{{Req: bigReq(7, "echo", 1<<20)}}
	a.Place(items)
	rs = []Response{{ID: 6, ShmResult: 1}}
	a.Settle(rs)
	if items[0].Req.ShmSize != 0 || rs[0].Err != ErrArenaClosed || rs[0].Result != nil {
		t.Fatal("a closed arena placed a call or let a reply read it")
	}
}

// A lent argument is copied into the block under its loan's lock, and the
// loan returns at once afterwards.
func TestArenaLentArgs(t *testing.T) {
	a := newTestArena(4<<20, nil)
	arg := bytes.Repeat([]byte{7}, 1<<20)
	r := Request{ID: 1, Method: "echo", Args: [][]byte{arg}, RawArgs: 1}
	r.Loan = NewLoan(r.Args, 1)
	r.Hold()
	items := []Item{{Req: r}}
	a.Place(items)
	var v Vec
	v.Min = VecMin
	AppendCallBatchVec(&v, items)
	if v.Lent() || v.Len() > 200 {
		t.Fatalf("the frame refers to the lent argument: %d bytes", v.Len())
	}
	r.Loan.Return()
	if !bytes.Equal(a.mem[:len(arg)], arg) {
		t.Fatal("the lent argument is not in the block")
	}
	if r.Loan.held != 0 {
		t.Fatalf("the loan is still held %d times", r.Loan.held)
	}
	_, n := protowire.ConsumeVarint(v.Buf)
	b, err := DecodeCallBatch(v.Buf[n:], Interner{})
	if err != nil || len(b.Calls) != 1 || len(b.Calls[0].Args[0]) != 0 || !slices.Equal(b.Calls[0].ShmArgLens, []uint64{1 << 20}) {
		t.Fatalf("decoded %v, %v", b, err)
	}
}

// ShmArgs copies the arguments out into slices of their own and refuses
// calls whose block or lengths break the rules.
func TestShmArgs(t *testing.T) {
	arena := make([]byte, 1<<20)
	for i := range arena {
		arena[i] = byte(i)
	}
	ok := &workerpb.Call{Id: 1, Args: [][]byte{{}, []byte("small"), {}}, RawArgs: 0b101,
		ShmOffset: 4096, ShmSize: 8192, ShmArgs: 0b101, ShmArgLens: []uint64{100, 200}}
	args, perr := ShmArgs(arena, ok, 1<<30)
	if perr != nil || !bytes.Equal(args[0], arena[4096:4196]) || !bytes.Equal(args[2], arena[4196:4396]) || string(args[1]) != "small" {
		t.Fatalf("ShmArgs = %v", perr)
	}
	arena[4096]++
	if args[0][0] == arena[4096] {
		t.Fatal("an argument aliases the arena")
	}
	for name, c := range map[string]*workerpb.Call{
		"outside":    {Args: [][]byte{{}}, RawArgs: 1, ShmOffset: 1 << 20, ShmSize: 1, ShmArgs: 1, ShmArgLens: []uint64{1}},
		"overflow":   {Args: [][]byte{{}}, RawArgs: 1, ShmOffset: 4096, ShmSize: ^uint64(0) - 100, ShmArgs: 1, ShmArgLens: []uint64{1}},
		"overrun":    {Args: [][]byte{{}}, RawArgs: 1, ShmOffset: 0, ShmSize: 4096, ShmArgs: 1, ShmArgLens: []uint64{4097}},
		"not raw":    {Args: [][]byte{{}}, ShmSize: 4096, ShmArgs: 1, ShmArgLens: []uint64{1}},
		"beyond":     {Args: [][]byte{{}}, RawArgs: 3, ShmSize: 4096, ShmArgs: 3, ShmArgLens: []uint64{1, 1}},
		"no length":  {Args: [][]byte{{}}, RawArgs: 1, ShmSize: 4096, ShmArgs: 1},
		"extra lens": {Args: [][]byte{{}}, RawArgs: 1, ShmSize: 4096, ShmArgs: 1, ShmArgLens: []uint64{1, 1}},
		"in frame":   {Args: [][]byte{{1}}, RawArgs: 1, ShmSize: 4096, ShmArgs: 1, ShmArgLens: []uint64{1}},
		"sum":        {Args: [][]byte{{}, {}}, RawArgs: 3, ShmSize: 4096, ShmArgs: 3, ShmArgLens: []uint64{4000, 100}},
	} {
		if _, perr := ShmArgs(arena, c, 1<<30); perr == nil || perr.Code != workerpb.Error_BAD_ARGUMENTS {
			t.Errorf("%s: ShmArgs accepted the call", name)
		}
	}
	if _, perr := ShmArgs(nil, ok, 1<<30); perr == nil {
		t.Error("a block without an arena was accepted")
	}
}

// A real arena: the worker side maps only a sealed memfd of the size it
// expects; both mappings see the same bytes.
func TestArenaMemfd(t *testing.T) {
	if !ShmSupported {
		t.Skip("no shared memory on this system")
	}
	mem, fd, err := CreateArena(1 << 20)
	if err != nil {
		t.Fatal(err)
	}
	defer UnmapArena(mem)
	defer CloseFD(fd)
	if _, err := MapArena(fd, 2<<20); err == nil {
		t.Fatal("mapped an arena of the wrong size")
	}
	peer, err := MapArena(fd, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	defer UnmapArena(peer)
	copy(mem[5000:], "hello")
	if string(peer[5000:5005]) != "hello" {
		t.Fatal("the mappings do not share their pages")
	}
	f, err := os.CreateTemp(t.TempDir(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(1 << 20); err != nil {
		t.Fatal(err)
	}
	if _, err := MapArena(int(f.Fd()), 1<<20); err == nil {
		t.Fatal("mapped a plain file as an arena")
	}
	if _, _, err := CreateArena(1000); err == nil {
		t.Fatal("an arena of less than a page")
	}
}

// A reply whose result is in the call's block, settled after the arena
// was closed with its connection: the call failed as on a dead worker
// (ErrArenaClosed, Crash), not as a lie (BAD_RESULT, never retried).
func TestArenaSettleAfterClose(t *testing.T) {
	a := newTestArena(4<<20, nil)
	items := []Item{{Req: bigReq(1, "m", 64<<10)}}
	a.Place(items)
	if items[0].Req.ShmSize == 0 {
		t.Fatal("no block")
	}
	a.Close()
	rs := []Response{{ID: 1, RawResult: true, ShmResult: 64 << 10}}
	a.Settle(rs)
	if r := rs[0]; r.Err != ErrArenaClosed || !r.Crash || r.Failure != nil || r.Result != nil || r.ShmResult != 0 {
		t.Fatalf("settled after close: %+v", r)
	}
}

// The worker refuses arguments in shared memory beyond its payload limit
// before it allocates anything; the host neither copies out nor learns a
// result beyond its own.
func TestShmPayloadLimit(t *testing.T) {
	arena := make([]byte, 1<<20)
	c := func() *workerpb.Call {
		return &workerpb.Call{Id: 1, Args: [][]byte{{}, []byte("small"), {}}, RawArgs: 0b101,
			ShmOffset: 4096, ShmSize: 8192, ShmArgs: 0b101, ShmArgLens: []uint64{100, 200}}
	}
	if _, perr := ShmArgs(arena, c(), 305); perr != nil {
		t.Fatalf("arguments of 305 bytes, limit 305: %v", perr)
	}
	if _, perr := ShmArgs(arena, c(), 304); perr == nil || perr.Code != workerpb.Error_TOO_LARGE {
		t.Fatalf("arguments of 305 bytes, limit 304: %v", perr)
	}
	huge := c()
	huge.ShmArgLens = []uint64{^uint64(0), 200}
	if _, perr := ShmArgs(arena, huge, 1<<30); perr == nil || perr.Code != workerpb.Error_TOO_LARGE {
		t.Fatalf("an argument of 2^64-1 bytes: %v", perr)
	}

	a := NewArena(make([]byte, 4<<20), func([]byte) {}, map[string]string{"render": "func([]uint8) []uint8"}, 64<<10)
	items := []Item{{Req: bigReq(1, "render", 128<<10)}}
	a.Place(items)
	if items[0].Req.ShmSize < 128<<10 {
		t.Fatalf("block of %d bytes", items[0].Req.ShmSize)
	}
	rs := []Response{{ID: 1, RawResult: true, ShmResult: 100 << 10}}
	a.Settle(rs)
	if rs[0].Failure == nil || rs[0].Failure.Code != workerpb.Error_TOO_LARGE || rs[0].Result != nil {
		t.Fatalf("a result over the limit: %+v", rs[0])
	}
	items = []Item{{Req: Request{ID: 2, Method: "render", Args: [][]byte{[]byte("x")}, RawArgs: 1}}}
	a.Place(items)
	if items[0].Req.ShmSize != 0 {
		t.Fatalf("the size of a result over the limit was learnt: block of %d bytes", items[0].Req.ShmSize)
	}
}

// A reply to a call whose arguments are still being copied into its block
// (a worker that guessed the call's id) frees nothing: the next call does
// not get the same block while the copy runs.
func TestArenaEarlyReply(t *testing.T) {
	a := newTestArena(4<<20, nil)
	r := bigReq(1, "echo", 1<<20)
	r.Loan = NewLoan(r.Args, 1)
	r.Loan.mu.Lock() // the copy waits for the loan's lock
	items := []Item{{Req: r}}
	placed := make(chan struct{})
	go func() {
		defer close(placed)
		a.Place(items)
	}()
	allocated := func() bool {
		a.mu.Lock()
		defer a.mu.Unlock()
		return len(a.free) == 1 && a.free[0].off > 0
	}
	deadline := time.Now().Add(5 * time.Second)
	for !allocated() {
		if time.Now().After(deadline) {
			t.Fatal("the block was never allocated")
		}
		time.Sleep(time.Millisecond)
	}
	a.Settle([]Response{{ID: 1}}) // early: Place is copying
	r.Loan.mu.Unlock()
	<-placed
	next := []Item{{Req: bigReq(2, "echo", 1<<20)}}
	a.Place(next)
	if b1, b2 := items[0].Req, next[0].Req; b2.ShmSize != 0 && b2.ShmOffset < b1.ShmOffset+b1.ShmSize && b1.ShmOffset < b2.ShmOffset+b2.ShmSize {
		t.Fatalf("call 2's block [%d, +%d) overlaps call 1's [%d, +%d)", b2.ShmOffset, b2.ShmSize, b1.ShmOffset, b1.ShmSize)
	}
	a.Settle([]Response{{ID: 1}, {ID: 2}})
	if n := a.InUse(); n != 0 {
		t.Fatalf("%d bytes in use after the replies", n)
	}
}
