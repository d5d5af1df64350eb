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
	io rawIO
}

// NewRawConn wraps c.
func NewRawConn(c *net.UnixConn) (*RawConn, error) {
	rc := &RawConn{UnixConn: c}
	if err := rc.io.init(c, c, "unix"); err != nil {
		return nil, err
	}
	return rc, nil
}

// SetSpin makes a read that finds the socket empty poll it again, letting
// the process's other goroutines run in between, for as long as s's Keep
// says, before it waits in the poller: Keep gets the time (Nanotime) the
// socket was first found empty since the last bytes read, over as many
// reads as that takes, and the time now; Arrived is told when bytes come
// after that, unless the process's polls were all taken then. Polling
// skips the sleep and the wake-up of a thread, which on many machines
// costs tens of microseconds when the message comes from a process on
// another CPU. Call it before the first read.
func (c *RawConn) SetSpin(s Spinner) { c.io.spin = s }

// Read reads into p.
func (c *RawConn) Read(p []byte) (int, error) { return c.io.Read(p) }

// Write writes p whole.
func (c *RawConn) Write(p []byte) (int, error) { return c.io.Write(p) }

// Close closes the socket; a read that polls stops at once.
func (c *RawConn) Close() error {
	c.io.closed.Store(true)
	return c.UnixConn.Close()
}

// RawTCPConn is a TCP connection read and written as RawConn reads and
// writes a unix socket (without polling): a NATS client's connection.
type RawTCPConn struct {
	*net.TCPConn
	io rawIO
}

// NewRawTCPConn wraps c.
func NewRawTCPConn(c *net.TCPConn) (*RawTCPConn, error) {
	rc := &RawTCPConn{TCPConn: c}
	if err := rc.io.init(c, c, "tcp"); err != nil {
		return nil, err
	}
	return rc, nil
}

// Read reads into p.
func (c *RawTCPConn) Read(p []byte) (int, error) { return c.io.Read(p) }

// Write writes p whole.
func (c *RawTCPConn) Write(p []byte) (int, error) { return c.io.Write(p) }

// rawIO makes the raw reads and writes of a socket.
type rawIO struct {
	c       net.Conn // the socket itself: its own Read and Write, for big ones
	network string
	raw     syscall.RawConn

	// spin, when set, says whether a read that found nothing since start
	// polls again (see RawConn.SetSpin). waitStart is when the socket was
	// found empty since the last bytes read (0: it was not), counted
	// whether spin hears of the bytes that end that wait: not when the
	// process's polls were all taken.
	spin      Spinner
	waitStart int64
	counted   bool
	closed    atomic.Bool
	rp        []byte
	rn        int
	rerr      error
	read      func(fd uintptr) bool
	wp        []byte
	wn        int
	werr      error
	write     func(fd uintptr) bool
}

// spinners counts the reads of the process that poll, at most one fewer
// than GOMAXPROCS (and at least one), so that they do not take every CPU
// the process may use from the work that produces their messages.
var spinners atomic.Int32

func (r *rawIO) init(c net.Conn, sc syscall.Conn, network string) error {
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	r.c, r.network, r.raw = c, network, raw
	r.read = r.tryRead
	r.write = r.tryWrite
	return nil
}

// tryRead reads into rp; it returns false when the socket is empty and
// polling is over, for the poller to wait.
func (r *rawIO) tryRead(fd uintptr) bool {
	spinning := false
	defer func() {
		if spinning {
			spinners.Add(-1)
		}
	}()
	for {
		n, err := rawRead(int(fd), r.rp)
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			if r.spin == nil || r.closed.Load() {
				return false
			}
			now := Nanotime()
			if r.waitStart == 0 {
				r.waitStart, r.counted = now, true
			}
			if !r.spin.Keep(r.waitStart, now) {
				return false
			}
			if !spinning {
				if spinners.Add(1) > int32(max(1, runtime.GOMAXPROCS(0)-1)) {
					spinners.Add(-1)
					r.counted = false // it could not poll
					return false
				}
				spinning = true
			}
			runtime.Gosched()
			continue
		case nil:
			if r.waitStart != 0 {
				if r.counted {
					r.spin.Arrived()
				}
				r.waitStart = 0
			}
		default:
			err = r.opError("read", err)
		}
		r.rn, r.rerr = n, err
		return true
	}
}

// tryWrite writes wp; it returns false when the socket is full, for the
// poller to wait for room.
func (r *rawIO) tryWrite(fd uintptr) bool {
	done, err := tryWrite(int(fd), r.wp[r.wn:], r.wn)
	r.wn = done
	if err == syscall.EAGAIN {
		return false
	}
	if err != nil {
		r.werr = r.opError("write", err)
	}
	return true
}

// opError is err of the system call op, as the net package reports it.
func (r *rawIO) opError(op string, err error) error {
	if _, ok := err.(syscall.Errno); !ok {
		return err
	}
	return &net.OpError{Op: op, Net: r.network, Source: r.c.LocalAddr(), Addr: r.c.RemoteAddr(), Err: os.NewSyscallError(op, err)}
}

// Read reads into p.
func (r *rawIO) Read(p []byte) (int, error) {
	if len(p) == 0 || len(p) > rawMax {
		return r.c.Read(p)
	}
	r.rp, r.rn, r.rerr = p, 0, nil
	err := r.raw.Read(r.read)
	n := r.rn
	if err == nil {
		err = r.rerr
	}
	r.rp = nil
	if err == nil && n == 0 {
		err = io.EOF
	}
	return n, err
}

// Write writes p whole.
func (r *rawIO) Write(p []byte) (int, error) {
	if len(p) > rawMax {
		return r.c.Write(p)
	}
	r.wp, r.wn, r.werr = p, 0, nil
	err := r.raw.Write(r.write)
	n := r.wn
	if err == nil {
		err = r.werr
	}
	r.wp = nil
	return n, err
}

// epoch is the origin of Nanotime.
var epoch = time.Now()

// Nanotime is the monotonic time in nanoseconds since the process
// started, never 0.
func Nanotime() int64 { return int64(time.Since(epoch)) + 1 }
