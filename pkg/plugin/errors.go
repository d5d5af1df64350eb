package plugin

import "github.com/workestrator/workestrator/internal/worker"

// Permanent marks err so that the farm never retries the call that returned
// it (farm.ErrPermanent matches it on the host). The caller still sees err's
// type name, message and details. Permanent returns nil for a nil err.
func Permanent(err error) error { return worker.Permanent(err) }
