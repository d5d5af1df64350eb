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
// until then, unless they are lent (see [Loan]): those are read under the
// loan's lock, and released as soon as they are written. Not safe for
// concurrent use.
type Vec struct {
	Buf   []byte
	Min   int
	spans []span
	big   int         // bytes in spans
	lent  int         // spans that are lent and not yet written
	segs  net.Buffers // reused by WriteTo
}

// span is a slice written after Buf[:at]: data, or the loan's args[idx].
type span struct {
	at   int
	n    int
	data []byte
	loan *Loan
	idx  int
}

// Len is the number of bytes in the stream.
func (v *Vec) Len() int { return len(v.Buf) + v.big }

// appendData appends d to the stream: by reference when it is big enough.
func (v *Vec) appendData(d []byte) {
	if v.Min <= 0 || len(d) < v.Min {
		v.Buf = append(v.Buf, d...)
		return
	}
	v.spans = append(v.spans, span{at: len(v.Buf), n: len(d), data: d})
	v.big += len(d)
}

// appendLent appends l.args[i], whose lock the caller holds, to the stream:
// by reference, counted in the loan, when it is big enough.
func (v *Vec) appendLent(l *Loan, i int) {
	d := l.args[i]
	if v.Min <= 0 || len(d) < v.Min || l.lent&(1<<i) == 0 {
		v.appendData(d)
		return
	}
	l.held++
	v.spans = append(v.spans, span{at: len(v.Buf), n: len(d), loan: l, idx: i})
	v.big += len(d)
	v.lent++
}

// Truncate cuts the stream back to n bytes, which must be a length it had
// (Len) before appending more, and no lent slice since.
func (v *Vec) Truncate(n int) {
	for len(v.spans) > 0 {
		i := len(v.spans) - 1
		s := v.spans[i]
		if s.at+v.bigBefore(i)+s.n <= n {
			break
		}
		v.big -= s.n
		v.spans[i] = span{}
		v.spans = v.spans[:i]
	}
	v.Buf = v.Buf[:n-v.big]
}

// bigBefore is the bytes of the spans before spans[i].
func (v *Vec) bigBefore(i int) int {
	n := 0
	for _, s := range v.spans[:i] {
		n += s.n
	}
	return n
}

// Segments appends to dst the stream's pieces, in order, after its first
// skip bytes; they alias Buf and the big slices. The stream must hold no
// lent slice not yet written.
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
		if skip >= s.n { // written: a lent one has no data left
			skip -= s.n
		} else {
			add(s.data)
		}
		prev = s.at
	}
	if prev < len(v.Buf) {
		add(v.Buf[prev:])
	}
	return dst
}

// Lent reports whether the stream holds lent slices not yet written: then
// it is written with TryWrite only.
func (v *Vec) Lent() bool { return v.lent > 0 }

// Reset empties the stream and lets go of its big slices (and of the
// loans of those not written); it keeps Buf's memory when that is at most
// KeepBuf bytes.
func (v *Vec) Reset() {
	for i := range v.spans {
		if s := &v.spans[i]; s.loan != nil {
			s.loan.mu.Lock()
			s.loan.held--
			s.loan.mu.Unlock()
		}
	}
	clear(v.spans)
	v.spans = v.spans[:0]
	v.big, v.lent = 0, 0
	if cap(v.Buf) > KeepBuf {
		v.Buf = nil
	} else {
		v.Buf = v.Buf[:0]
	}
}

// WriteTo writes the stream, which holds no lent slice, to w after its
// first skip bytes, with one writev where w is a socket, and then resets
// it.
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
// done; err is syscall.EAGAIN when the socket is full. A lent slice is
// written under its loan's lock and released once written whole.
func (v *Vec) TryWrite(fd int, done int) (int, error) {
	if len(v.spans) == 0 {
		return tryWrite(fd, v.Buf[done:], done)
	}
	pos, prev := 0, 0
	var err error
	piece := func(p []byte) {
		if err == nil && done < pos+len(p) {
			done, err = tryWrite(fd, p[done-pos:], done)
		}
		pos += len(p)
	}
	for i := range v.spans {
		s := &v.spans[i]
		piece(v.Buf[prev:s.at])
		prev = s.at
		switch {
		case err != nil:
			return done, err
		case done >= pos+s.n:
			pos += s.n
		case s.loan == nil:
			piece(s.data)
		default:
			l := s.loan
			l.mu.Lock()
			piece(l.args[s.idx])
			if err == nil { // written whole
				l.held--
				s.loan = nil
				v.lent--
			}
			l.mu.Unlock()
		}
	}
	piece(v.Buf[prev:])
	return done, err
}

// tryWrite writes p to the non-blocking fd until it is written or fd is
// full, adding what it wrote to done.
func tryWrite(fd int, p []byte, done int) (int, error) {
	for len(p) > 0 {
		var n int
		var err error
		if len(p) <= rawMax {
			n, err = rawWrite(fd, p)
		} else {
			n, err = syscall.Write(fd, p)
		}
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
