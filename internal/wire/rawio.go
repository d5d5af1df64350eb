package wire

import (
	"io"
	"net"
	"syscall"
)

// rawMax is the largest read or write a RawConn makes as a raw system
// call; bigger ones go through the runtime's system call path, which lets
// another thread take over while the kernel copies.
const rawMax = 256 << 10

// RawConn is a unix socket whose small reads and writes are raw system
// calls on its non-blocking descriptor, waiting in the runtime's poller
// when the socket is empty or full. A raw call skips the runtime's system
// call bookkeeping: in a process that was idle, the first system call of
// a goroutine wakes the runtime's monitor thread, which then polls every
// 20 µs for a millisecond; a data plane's message each few hundred
// microseconds kept it awake for good.
//
// One goroutine reads at a time and one writes at a time.
type RawConn struct {
	*net.UnixConn
	raw syscall.RawConn

	rp    []byte
	rn    int
	rerr  error
	read  func(fd uintptr) bool
	wp    []byte
	wn    int
	werr  error
	write func(fd uintptr) bool
}

// NewRawConn wraps c.
func NewRawConn(c *net.UnixConn) (*RawConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	rc := &RawConn{UnixConn: c, raw: raw}
	rc.read = func(fd uintptr) bool {
		for {
			n, err := rawRead(int(fd), rc.rp)
			switch err {
			case syscall.EINTR:
				continue
			case syscall.EAGAIN:
				return false
			}
			rc.rn, rc.rerr = n, err
			return true
		}
	}
	rc.write = func(fd uintptr) bool {
		for len(rc.wp) > 0 {
			n, err := rawWrite(int(fd), rc.wp)
			if n > 0 {
				rc.wn += n
				rc.wp = rc.wp[n:]
			}
			switch {
			case err == syscall.EINTR:
			case err == syscall.EAGAIN:
				return false
			case err != nil:
				rc.werr = err
				return true
			case n <= 0:
				rc.werr = io.ErrShortWrite
				return true
			}
		}
		return true
	}
	return rc, nil
}

// Read reads into p.
func (c *RawConn) Read(p []byte) (int, error) {
	if len(p) == 0 || len(p) > rawMax {
		return c.UnixConn.Read(p)
	}
	c.rp, c.rn, c.rerr = p, 0, nil
	err := c.raw.Read(c.read)
	n := c.rn
	if err == nil {
		err = c.rerr
	}
	c.rp = nil
	if err == nil && n == 0 {
		err = io.EOF
	}
	return n, err
}

// Write writes p whole.
func (c *RawConn) Write(p []byte) (int, error) {
	if len(p) > rawMax {
		return c.UnixConn.Write(p)
	}
	c.wp, c.wn, c.werr = p, 0, nil
	err := c.raw.Write(c.write)
	n := c.wn
	if err == nil {
		err = c.werr
	}
	c.wp = nil
	return n, err
}
