// Package worker is the runtime behind plugin.Serve: it checks the
// functions' shapes, serves the Worker service and the socket data plane,
// runs each call on a goroutine of a pool with its context, decodes
// arguments straight into the parameters' types, recovers panics into
// errors, and exits when the host stops it or dies.
package worker
