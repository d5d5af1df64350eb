package wire

import (
	"io"
	"net"
	"syscall"
)

// VecMin is the size from which an argument or a result is written to the
// socket from its own slice (a vectored write) rather than copied into the
// frame buffer first.
const VecMin = 32 << 10

// Vec is a byte stream being built for one write: small bytes are copied
// into Buf, byte slices of at least Min bytes are kept by reference and
// written in place, in order, between Buf's bytes. Min 0 copies everything.
// A Vec holds its big slices until Reset: their owner must not change them
// until then. Not safe for concurrent use.
type Vec struct {
	Buf   []byte
	Min   int
	spans []span
	big   int         // bytes in spans
	segs  net.Buffers // reused by WriteTo and TryWrite
}

// span is a slice written after Buf[:at].
type span struct {
	at   int
	data []byte
}

// Len is the number of bytes in the stream.
func (v *Vec) Len() int { return len(v.Buf) + v.big }

// appendData appends d to the stream: by reference when it is big enough.
func (v *Vec) appendData(d []byte) {
	if v.Min <= 0 || len(d) < v.Min {
		v.Buf = append(v.Buf, d...)
		return
	}
	v.spans = append(v.spans, span{at: len(v.Buf), data: d})
	v.big += len(d)
}

// Truncate cuts the stream back to n bytes, which must be a length it had
// (Len) before appending more.
func (v *Vec) Truncate(n int) {
	for len(v.spans) > 0 {
		s := v.spans[len(v.spans)-1]
		if s.at+v.bigBefore(len(v.spans)-1)+len(s.data) <= n {
			break
		}
		v.big -= len(s.data)
		v.spans[len(v.spans)-1] = span{}
		v.spans = v.spans[:len(v.spans)-1]
	}
	v.Buf = v.Buf[:n-v.big]
}

// bigBefore is the bytes of the spans before spans[i].
func (v *Vec) bigBefore(i int) int {
	n := 0
	for _, s := range v.spans[:i] {
		n += len(s.data)
	}
	return n
}

// Segments appends to dst the stream's pieces, in order, after its first
// skip bytes; they alias Buf and the big slices.
func (v *Vec) Segments(dst net.Buffers, skip int) net.Buffers {
	prev := 0
	add := func(p []byte) {
		if skip >= len(p) {
			skip -= len(p)
			return
		}
		dst = append(dst, p[skip:])
		skip = 0
	}
	for _, s := range v.spans {
		if s.at > prev {
			add(v.Buf[prev:s.at])
		}
		add(s.data)
		prev = s.at
	}
	if prev < len(v.Buf) {
		add(v.Buf[prev:])
	}
	return dst
}

// Reset empties the stream and lets go of its big slices; it keeps Buf's
// memory when that is at most KeepBuf bytes.
func (v *Vec) Reset() {
	clear(v.spans)
	v.spans = v.spans[:0]
	v.big = 0
	if cap(v.Buf) > KeepBuf {
		v.Buf = nil
	} else {
		v.Buf = v.Buf[:0]
	}
}

// WriteTo writes the stream to w after its first skip bytes, with one
// writev where w is a socket, and then resets it.
func (v *Vec) WriteTo(w io.Writer, skip int) (int64, error) {
	var n int64
	var err error
	if len(v.spans) == 0 {
		var k int
		k, err = w.Write(v.Buf[skip:])
		n = int64(k)
	} else {
		v.segs = v.Segments(v.segs[:0], skip)
		bufs := v.segs
		n, err = bufs.WriteTo(w)
		clear(v.segs)
	}
	v.Reset()
	return n, err
}

// TryWrite writes to fd, which is non-blocking, what it takes at once of the
// stream after its first done bytes, and returns the new count of bytes
// done; err is syscall.EAGAIN when the socket is full.
func (v *Vec) TryWrite(fd int, done int) (int, error) {
	if len(v.spans) == 0 {
		return tryWrite(fd, v.Buf[done:], done)
	}
	v.segs = v.Segments(v.segs[:0], done)
	defer clear(v.segs)
	for _, p := range v.segs {
		var err error
		if done, err = tryWrite(fd, p, done); err != nil {
			return done, err
		}
	}
	return done, nil
}

// tryWrite writes p to the non-blocking fd until it is written or fd is
// full, adding what it wrote to done.
func tryWrite(fd int, p []byte, done int) (int, error) {
	for len(p) > 0 {
		n, err := syscall.Write(fd, p)
		if n > 0 {
			done += n
			p = p[n:]
		}
		switch {
		case err == syscall.EINTR:
		case err != nil:
			return done, err
		case n <= 0:
			return done, io.ErrShortWrite
		}
	}
	return done, nil
}
