package worker

import (
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// unixPair is a connected pair of unix stream sockets.
func unixPair(t *testing.T) (host, worker *net.UnixConn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "pair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		return c.(*net.UnixConn)
	}
	host, worker = conn(fds[0]), conn(fds[1])
	t.Cleanup(func() { host.Close(); worker.Close() })
	return host, worker
}

// readToken takes the one descriptor that may come with the token and
// refuses more; mapArena maps a memfd of the expected size and declines
// anything else. Every descriptor is closed.
func TestReadTokenArena(t *testing.T) {
	token := []byte("0123456789abcdef")
	const size = 1 << 20
	memfd := func(n int) int {
		mem, fd, err := wire.CreateArena(n)
		if err != nil {
			t.Fatal(err)
		}
		wire.UnmapArena(mem)
		return fd
	}
	plain := func() int {
		f, err := os.CreateTemp(t.TempDir(), "plain")
		if err != nil {
			t.Fatal(err)
		}
		f.Truncate(size)
		fd, _ := syscall.Dup(int(f.Fd()))
		f.Close()
		return fd
	}
	for _, c := range []struct {
		name    string
		fds     func() []int
		shmSize int
		ok      bool
		mapped  bool
	}{
		{"no descriptor", func() []int { return nil }, size, true, false},
		{"one memfd", func() []int { return []int{memfd(size)} }, size, true, true},
		{"unexpected", func() []int { return []int{memfd(size)} }, 0, true, false},
		{"wrong size", func() []int { return []int{memfd(2 * size)} }, size, true, false},
		{"two", func() []int { return []int{memfd(size), memfd(size)} }, size, false, false},
		{"three", func() []int { return []int{memfd(size), memfd(size), memfd(size)} }, size, false, false},
		{"plain file", func() []int { return []int{plain()} }, size, true, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			host, worker := unixPair(t)
			before := testutil.OpenFDs(t)
			fds := c.fds()
			var oob []byte
			if len(fds) > 0 {
				oob = syscall.UnixRights(fds...)
			}
			if _, _, err := host.WriteMsgUnix(token, oob, nil); err != nil {
				t.Fatal(err)
			}
			for _, fd := range fds {
				syscall.Close(fd)
			}
			got := make([]byte, len(token))
			fd, err := readToken(worker, got)
			var arena []byte
			if fd >= 0 {
				arena = (&server{shmSize: c.shmSize}).mapArena(fd)
				wire.CloseFD(fd)
			}
			if (err == nil) != c.ok || (arena != nil) != c.mapped {
				t.Fatalf("readToken: arena %d bytes, %v", len(arena), err)
			}
			if c.ok && string(got) != string(token) {
				t.Fatalf("token %q", got)
			}
			if arena != nil {
				arena[0] = 1 // mapped, writable
				wire.UnmapArena(arena)
			}
			if n := testutil.OpenFDs(t); n != before {
				t.Fatalf("%d descriptors open, %d before", n, before)
			}
		})
	}
}
