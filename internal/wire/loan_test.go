package wire

import (
	"bytes"
	"io"
	"os"
	"syscall"
	"testing"
)

// A lent argument is written from the caller's slice while the loan lasts;
// once returned, what is left of the frame is written from a copy taken
// then, so that the caller's later changes never reach the socket, and the
// loan counts no reference once the frame is written.
func TestLoanReturnedMidWrite(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	w, r := os.NewFile(uintptr(fds[0]), "w"), os.NewFile(uintptr(fds[1]), "r")
	defer w.Close()
	defer r.Close()

	big := bytes.Repeat([]byte{0xab}, 8<<20) // more than the socket holds
	orig := bytes.Clone(big)
	args := [][]byte{[]byte("small"), big}
	loan := NewLoan(args, 1<<1)
	req := Request{ID: 1, Method: "m", Args: args, RawArgs: 3, Loan: loan}
	req.Hold() // as Conn.Enqueue does
	v := Vec{Min: VecMin}
	AppendCallBatchVec(&v, []Item{{Req: req}})
	want := AppendCallBatchFrame(nil, []Item{{Req: Request{ID: 1, Method: "m", Args: [][]byte{[]byte("small"), orig}, RawArgs: 3}}})
	if loan.held != 1 || !v.Lent() {
		t.Fatalf("after encoding: %d references, lent %v", loan.held, v.Lent())
	}
	done, err := v.TryWrite(fds[0], 0)
	if err != syscall.EAGAIN || done == 0 || done >= v.Len() {
		t.Fatalf("first write: %d of %d bytes, %v", done, v.Len(), err)
	}
	loan.Return()
	for i := range big {
		big[i] = 0xff // the caller's slice is its own again
	}
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, int64(len(want))))
		got <- b
	}()
	for done < v.Len() {
		if done, err = v.TryWrite(fds[0], done); err != nil && err != syscall.EAGAIN {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(<-got, want) {
		t.Fatal("the frame changed with the caller's slice")
	}
	if loan.held != 0 || v.Lent() {
		t.Fatalf("after the write: %d references, lent %v", loan.held, v.Lent())
	}
	v.Reset()
	if loan.held != 0 {
		t.Fatalf("after Reset: %d references", loan.held)
	}
}

// A loan returned with no reference left copies nothing.
func TestLoanReturnedUnheld(t *testing.T) {
	big := bytes.Repeat([]byte{1}, VecMin)
	loan := NewLoan([][]byte{big}, 1)
	req := Request{Args: [][]byte{big}, RawArgs: 1, Loan: loan}
	req.Hold()
	if own := req.OwnArgs(); &own[0][0] == &big[0] || !bytes.Equal(own[0], big) {
		t.Fatal("OwnArgs did not copy the lent argument")
	}
	loan.Return()
	if &loan.args[0][0] != &big[0] {
		t.Fatal("a loan with no reference left was copied")
	}
}

// Once a helper has written a lent slice whole, the rest of the stream may
// be written by WriteTo (the sender goroutine's writev).
func TestLoanWrittenThenWriteTo(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	w, r := os.NewFile(uintptr(fds[0]), "w"), os.NewFile(uintptr(fds[1]), "r")
	defer r.Close()
	lent := bytes.Repeat([]byte{7}, VecMin)
	own := bytes.Repeat([]byte{9}, VecMin)
	items := []Item{
		{Req: Request{ID: 1, Method: "m", Args: [][]byte{lent}, RawArgs: 1, Loan: NewLoan([][]byte{lent}, 1)}},
		{Req: Request{ID: 2, Method: "m", Args: [][]byte{own}, RawArgs: 1}},
	}
	items[0].Req.Hold()
	v := Vec{Min: VecMin}
	AppendCallBatchVec(&v, items)
	items[0].Req.Loan = nil
	want := AppendCallBatchFrame(nil, items)
	got := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(r, int64(len(want))))
		got <- b
	}()
	// Write up to the end of the lent slice with TryWrite (a blocking
	// socket: it writes all it is given), then the rest with WriteTo.
	end := v.spans[0].at + v.spans[0].n
	part := Vec{Buf: v.Buf[:v.spans[0].at], Min: VecMin, spans: v.spans[:1:1], big: v.spans[0].n, lent: 1}
	done, err := part.TryWrite(fds[0], 0)
	if err != nil || done != end {
		t.Fatalf("TryWrite: %d bytes (want %d), %v", done, end, err)
	}
	v.lent = part.lent
	if v.Lent() {
		t.Fatal("the lent slice is still counted once written")
	}
	if _, err := v.WriteTo(w, done); err != nil {
		t.Fatal(err)
	}
	w.Close() // the reader ends even if bytes are missing
	if !bytes.Equal(<-got, want) {
		t.Fatal("the stream written in two parts differs")
	}
}
