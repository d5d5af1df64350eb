package wire

import "sync"

// Dest is a blocked caller's buffer for a call's []byte result
// (Request.Dest): a result that comes through shared memory is copied into
// its spare capacity, when it fits, instead of into a new slice. The first attempt
// of the call to answer fills it; once the caller stops waiting,
// [Dest.Return] ends it, and a result that arrives later gets a slice of
// its own. Safe for concurrent use.
type Dest struct {
	mu   sync.Mutex
	base []byte
	done bool // filled or returned
}

// NewDest lends base's spare capacity, base[len(base):cap(base)].
func NewDest(base []byte) *Dest { return &Dest{base: base} }

// fill copies src into the lent buffer's spare capacity, once, and returns
// the part it filled; false when there is no buffer (d is nil), it has no
// room for src, or it was filled or returned already.
func (d *Dest) fill(src []byte) ([]byte, bool) {
	if d == nil {
		return nil, false
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.done || cap(d.base)-len(d.base) < len(src) {
		return nil, false
	}
	d.done = true
	return append(d.base, src...)[len(d.base):], true
}

// Return ends the loan of the buffer: it is not written once Return
// returns.
func (d *Dest) Return() {
	d.mu.Lock()
	d.done = true
	d.mu.Unlock()
}
