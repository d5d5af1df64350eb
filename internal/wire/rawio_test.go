package wire

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// rawPair is a connected pair of unix sockets, each a RawConn.
func rawPair(t *testing.T) (*RawConn, *RawConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	var rcs [2]*RawConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "pair")
		c, err := net.FileConn(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		rc, err := NewRawConn(c.(*net.UnixConn))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rc.Close() })
		rcs[i] = rc
	}
	return rcs[0], rcs[1]
}

// Bytes written on one end arrive whole on the other, small ones by raw
// system calls and big ones (over rawMax, more than the socket holds, so
// that the writer waits for room) through the runtime's; a closed peer
// reads as EOF.
func TestRawConnCarriesBytes(t *testing.T) {
	a, b := rawPair(t)
	for _, size := range []int{1, 100, 64 << 10, rawMax, rawMax + 1, 4 << 20} {
		want := make([]byte, size)
		for i := range want {
			want[i] = byte(i*7 + size)
		}
		errc := make(chan error, 1)
		go func() {
			n, err := a.Write(want)
			if err == nil && n != size {
				err = io.ErrShortWrite
			}
			errc <- err
		}()
		got := make([]byte, size)
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatalf("%d bytes: read: %v", size, err)
		}
		if err := <-errc; err != nil {
			t.Fatalf("%d bytes: write: %v", size, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: read other bytes than written", size)
		}
	}
	a.Close()
	if n, err := b.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want 0, EOF", n, err)
	}
}

// A read waiting for bytes ends, with net.ErrClosed, when its own end is
// closed.
func TestRawConnCloseEndsARead(t *testing.T) {
	_, b := rawPair(t)
	errc := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 10))
		errc <- err
	}()
	// The read is waiting or about to: closing ends it either way.
	b.Close()
	wantClosedRead(t, errc)
}

// wantClosedRead waits for the error of a read whose conn was closed.
func wantClosedRead(t *testing.T, errc <-chan error) {
	t.Helper()
	select {
	case err := <-errc:
		if !errors.Is(err, net.ErrClosed) {
			t.Fatalf("read on a closed conn: %v; want net.ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a read on a closed conn did not end")
	}
}

// A RawTCPConn carries bytes whole both ways, small ones by raw system
// calls and big ones through the runtime's, and reads EOF once its peer
// closed.
func TestRawTCPConnCarriesBytes(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			close(accepted)
			return
		}
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	a, err := NewRawTCPConn(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	peer, ok := <-accepted
	if !ok {
		t.Fatal("accept failed")
	}
	b, err := NewRawTCPConn(peer.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{1, 1000, rawMax + 1, 3 << 20} {
		want := bytes.Repeat([]byte{byte(size)}, size)
		errc := make(chan error, 1)
		go func() {
			_, err := a.Write(want)
			errc <- err
		}()
		got := make([]byte, size)
		if _, err := io.ReadFull(b, got); err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%d bytes: read %v, equal %v", size, err, bytes.Equal(got, want))
		}
		if err := <-errc; err != nil {
			t.Fatalf("%d bytes: write: %v", size, err)
		}
	}
	b.Close()
	if n, err := a.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Fatalf("read after the peer closed: %d, %v; want 0, EOF", n, err)
	}
}
