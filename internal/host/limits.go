package host

import "github.com/workestrator/workestrator/internal/wire"

// checkResponse fails a response whose result is over the payload limit
// with TOO_LARGE, and bounds its error: a worker is not trusted to.
func checkResponse(r *wire.Response, l *wire.Limits) {
	if r.ShmResult != 0 {
		// Left by no arena (wire.Arena.Settle clears what it copied
		// out): shared memory the call was never given.
		r.Failure = wire.ShmLie(r.ID, r.ShmResult, 0)
		r.Result, r.RawResult, r.ShmResult = nil, false, 0
	}
	if len(r.Result) > l.Payload {
		r.Failure = wire.TooLarge(len(r.Result), l.Payload)
		r.Result = nil
	}
	if r.Failure != nil {
		wire.BoundError(r.Failure, l.Payload)
	}
}
