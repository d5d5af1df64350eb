package wire

import "sync"

// Dest is a blocked caller's buffer for a call's []byte result
// (Request.Dest): a result that comes through shared memory is copied into
// its spare capacity, when it fits, instead of into a new slice. Only the
// answer of the attempt it is armed for fills it ([Dest.Arm]), at most
// once: an attempt given up (timed out and retried) cannot write into a
// buffer that the retry may still read, as when the buffer is also an
// argument. Once the caller stops waiting, [Dest.Return] ends it. Safe for
// concurrent use.
type Dest struct {
	mu    sync.Mutex
	base  []byte
	armed uint64 // the request id whose answer may fill it; 0: none
	done  bool   // filled or returned
}

// NewDest lends base's spare capacity, base[len(base):cap(base)].
func NewDest(base []byte) *Dest { return &Dest{base: base} }

// Arm lets the answer of request id fill the buffer, and no other; 0: none.
// A nil Dest does nothing.
func (d *Dest) Arm(id uint64) {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.armed = id
	d.mu.Unlock()
}

// fill copies src, the result of request id, into the lent buffer's spare
// capacity, once, and returns the part it filled; false when there is no
// buffer (d is nil), it has no room for src, it is not armed for id, or it
// was filled or returned already.
func (d *Dest) fill(id uint64, src []byte) ([]byte, bool) {
	if d == nil {
		return nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done || id == 0 || d.armed != id || cap(d.base)-len(d.base) < len(src) {
		return nil, false
	}
	d.done = true
	return append(d.base, src...)[len(d.base):], true
}

// Holds reports whether b is the part of d's buffer that fill filled, and
// the buffer's room (its spare capacity); before Return, which drops the
// buffer.
func (d *Dest) Holds(b []byte) (held bool, room int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return InPlace(d.base, b), cap(d.base) - len(d.base)
}

// InPlace reports whether b lies at the start of base's spare capacity, as
// the bytes that append(base, ...) wrote there without growing it.
func InPlace(base, b []byte) bool {
	n := len(base)
	return len(b) > 0 && cap(base)-n >= len(b) && &base[:n+1][n] == &b[0]
}

// Return ends the loan of the buffer: it is not written once Return
// returns.
func (d *Dest) Return() {
	d.mu.Lock()
	d.done, d.base = true, nil
	d.mu.Unlock()
}
