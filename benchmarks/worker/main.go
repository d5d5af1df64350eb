// Command worker is the workestrator-go worker of the comparison: the same
// trivial functions as the peers' workers, served with plugin.Serve. The
// compare program builds it into a temporary directory.
package main

import (
	"context"

	"github.com/workestrator/workestrator/benchmarks/internal/kernels"
	"github.com/workestrator/workestrator/pkg/plugin"
)

func main() {
	plugin.Serve(plugin.Methods{
		"add": kernels.Add,
		"pi":  kernels.PiChunk,
		// echo returns its payload: the payload workloads move it both ways.
		"echo": func(b []byte) []byte { return b },
		// block holds a worker slot until the caller cancels the call: the
		// burst workload uses it to keep calls queued while it measures the
		// host's heap.
		"block": func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
	})
}
