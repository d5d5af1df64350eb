package plugin

import (
	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/worker"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// ServeOption configures [Serve].
type ServeOption func(*worker.Options)

// WithSerializers adds custom serializers to the built-in JSON and CBOR, so
// that a host whose Config names one of them can call this worker.
func WithSerializers(s ...serializer.Serializer) ServeOption {
	return func(o *worker.Options) { o.Serializers = append(o.Serializers, s...) }
}

// OnShutdown registers a function that runs when the host asks the worker to
// stop (or dies), before the process exits. The host waits for the exit at
// most its KillTimeout, then kills the process.
func OnShutdown(fn func()) ServeOption {
	return func(o *worker.Options) { o.OnShutdown = append(o.OnShutdown, fn) }
}

// Logger returns the worker's logger: JSON lines on the process's stderr,
// which the host re-logs at their level under the worker's name. Its level
// comes from the host (WORKESTRATOR_LOG). It has no name of its own, so
// that the host's ("worker-2") names each line; a Named logger's name is
// added after it. Safe for concurrent use.
func Logger() hclog.Logger { return worker.Logger() }

// Serve runs the worker: it checks every function's shape, then serves the
// methods to the host that started this process, and never returns. A bad
// function shape, or a start by hand rather than by a host, prints a message
// naming the problem on stderr and exits with status 1.
//
// A panic in a function becomes an error returned to the caller, with its
// stack; the worker keeps serving. The process exits when the host asks it
// to stop, dies, or sends SIGTERM, after running the [OnShutdown] functions.
//
// Unless the environment sets GOGC or GOMEMLIMIT, or the process's code
// changed its GC percent or memory limit before Serve, Serve keeps the
// heap goal at least at the host's heap floor (the farm's
// Config.WorkerHeapFloor, 32 MiB by default, less under a memory limit;
// none when the host turns it off) by setting the GC percent after each
// collection; while the process's code has set a GC percent or a memory
// limit of its own, it leaves it alone.
func Serve(methods Methods, opts ...ServeOption) {
	var o worker.Options
	for _, opt := range opts {
		opt(&o)
	}
	worker.Serve(worker.Methods(methods), o)
}
