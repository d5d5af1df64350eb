package wire

import (
	"bytes"
	"slices"
	"sync"
)

// Loan lends a blocked caller's big byte-slice arguments to the transports
// without a copy (Request.Loan). A transport reads a lent argument only
// while it holds the Loan's lock, and counts each reference it keeps to
// one (an enqueued request, a frame not yet written); once the caller stops
// waiting, [Loan.Return] swaps the arguments still referred to for copies,
// so that the caller may change its slices while a write that the answer
// did not wait for (a cancelled call, a dead worker's socket) goes on.
// Safe for concurrent use.
type Loan struct {
	mu   sync.Mutex
	args [][]byte // the request's Args, copied: Return swaps its lent ones
	lent uint64   // bit i: args[i] is the caller's own slice
	held int      // references the transports keep
}

// NewLoan lends args[i] for each bit i of lent; args are the requests'
// Args, whose headers (lengths) anyone may read, and whose lent bytes only
// the loan reads.
func NewLoan(args [][]byte, lent uint64) *Loan {
	return &Loan{args: slices.Clone(args), lent: lent}
}

// hold counts one more reference.
func (l *Loan) hold() {
	l.mu.Lock()
	l.held++
	l.mu.Unlock()
}

// Return ends the loan: the caller's slices are no longer read once it
// returns. Arguments still referred to are copied first.
func (l *Loan) Return() {
	l.mu.Lock()
	if l.held > 0 {
		for i := range l.args {
			if i < 64 && l.lent&(1<<i) != 0 {
				l.args[i] = bytes.Clone(l.args[i])
			}
		}
	}
	l.lent = 0
	l.mu.Unlock()
}

// Hold counts a reference of an enqueued request to the loan, which the
// transport releases once it has encoded or copied the request.
func (r *Request) Hold() {
	if r.Loan != nil {
		r.Loan.hold()
	}
}

// OwnArgs returns r's arguments with the lent ones copied, and releases
// r's reference: for a transport that cannot read them under the lock.
func (r *Request) OwnArgs() [][]byte {
	l := r.Loan
	if l == nil {
		return r.Args
	}
	l.mu.Lock()
	args := make([][]byte, len(r.Args))
	for i, a := range l.args {
		if i < 64 && l.lent&(1<<i) != 0 {
			a = bytes.Clone(a)
		}
		args[i] = a
	}
	l.held--
	l.mu.Unlock()
	return args
}
