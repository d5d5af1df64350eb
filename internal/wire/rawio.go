package wire

import (
	"io"
	"net"
	"os"
	"runtime"
	"sync/atomic"
	"syscall"
	"time"
)

// rawMax is the largest read or write a RawConn makes as a raw system
// call; bigger ones go through the runtime's system call path, which lets
// another thread take over while the kernel copies.
const rawMax = 256 << 10

// RawConn is a unix socket whose reads and writes of up to rawMax bytes
// are raw system calls on its non-blocking descriptor, waiting in the
// runtime's poller when the socket is empty or full. A raw call skips the
// runtime's system call bookkeeping: in a process that was idle, the first
// system call of a goroutine through the runtime wakes its monitor thread,
// which then polls every 20 µs for a millisecond; a message every few
// hundred microseconds kept it awake for good. (Vectored writes, of frames
// that carry big slices, keep the runtime's path.)
//
// A read that finds the socket empty may poll it for a while before it
// waits in the poller (SetSpin). One goroutine reads at a time and one
// writes at a time.
type RawConn struct {
	*net.UnixConn
	raw syscall.RawConn

	// keep, when set, says whether a read that found nothing since start
	// polls again (see SetSpin).
	keep   func(start, now int64) bool
	closed atomic.Bool
	rp     []byte
	rn     int
	rerr   error
	read   func(fd uintptr) bool
	wp     []byte
	wn     int
	werr   error
	write  func(fd uintptr) bool
}

// spinners counts the reads of the process that poll, at most one fewer
// than GOMAXPROCS (and at least one), so that they do not take every CPU
// the process may use from the work that produces their messages.
var spinners atomic.Int32

// NewRawConn wraps c.
func NewRawConn(c *net.UnixConn) (*RawConn, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	rc := &RawConn{UnixConn: c, raw: raw}
	rc.read = rc.tryRead
	rc.write = rc.tryWrite
	return rc, nil
}

// SetSpin makes a read that finds the socket empty poll it again, letting
// the process's other goroutines run in between, for as long as keep
// says, before it waits in the poller: keep gets the time (Nanotime) the
// read first found the socket empty and the time now. Polling skips the
// sleep and the wake-up of a thread, which on many machines costs tens of
// microseconds when the message comes from a process on another CPU. Call
// it before the first read.
func (c *RawConn) SetSpin(keep func(start, now int64) bool) { c.keep = keep }

// Close closes the socket; a read that polls stops at once.
func (c *RawConn) Close() error {
	c.closed.Store(true)
	return c.UnixConn.Close()
}

// tryRead reads into rp; it returns false when the socket is empty and
// polling is over, for the poller to wait.
func (c *RawConn) tryRead(fd uintptr) bool {
	var start int64
	spinning := false
	defer func() {
		if spinning {
			spinners.Add(-1)
		}
	}()
	for {
		n, err := rawRead(int(fd), c.rp)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if c.keep == nil || c.closed.Load() {
				return false
			}
			now := Nanotime()
			if start == 0 {
				start = now
			}
			if !c.keep(start, now) {
				return false
			}
			if !spinning {
				if spinners.Add(1) > int32(max(1, runtime.GOMAXPROCS(0)-1)) {
					spinners.Add(-1)
					return false
				}
				spinning = true
			}
			runtime.Gosched()
			continue
		case nil:
		default:
			err = c.opError("read", err)
		}
		c.rn, c.rerr = n, err
		return true
	}
}

// tryWrite writes wp; it returns false when the socket is full, for the
// poller to wait for room.
func (c *RawConn) tryWrite(fd uintptr) bool {
	done, err := tryWrite(int(fd), c.wp[c.wn:], c.wn)
	c.wn = done
	if err == syscall.EAGAIN {
		return false
	}
	if err != nil {
		c.werr = c.opError("write", err)
	}
	return true
}

// opError is err of the system call op, as the net package reports it.
func (c *RawConn) opError(op string, err error) error {
	if _, ok := err.(syscall.Errno); !ok {
		return err
	}
	return &net.OpError{Op: op, Net: "unix", Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: os.NewSyscallError(op, err)}
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

// epoch is the origin of Nanotime.
var epoch = time.Now()

// Nanotime is the monotonic time in nanoseconds since the process
// started, never 0.
func Nanotime() int64 { return int64(time.Since(epoch)) + 1 }
