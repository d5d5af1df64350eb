// Command worker is the workestrator-go worker of the comparison: the same
// trivial functions as the peers' workers, served with plugin.Serve. The
// compare program builds it into a temporary directory.
//
// With BENCH_WORKER_CPUPROFILE=PREFIX in its environment (compare
// -cpuprofile sets it), the worker writes a CPU profile to PREFIX-<pid>.pprof
// when it stops.
package main

import (
	"context"
	"fmt"
	"os"
	"runtime/pprof"

	"github.com/workestrator/workestrator/benchmarks/internal/kernels"
	"github.com/workestrator/workestrator/pkg/plugin"
)

func main() {
	var opts []plugin.ServeOption
	if prefix := os.Getenv("BENCH_WORKER_CPUPROFILE"); prefix != "" {
		if f, err := os.Create(fmt.Sprintf("%s-%d.pprof", prefix, os.Getpid())); err == nil {
			if err := pprof.StartCPUProfile(f); err == nil {
				opts = append(opts, plugin.OnShutdown(func() {
					pprof.StopCPUProfile()
					f.Close()
				}))
			}
		}
	}
	plugin.Serve(plugin.Methods{
		"add": kernels.Add,
		"pi":  kernels.PiChunk,
		// echo returns its payload: the payload workloads move it both ways.
		"echo": func(b []byte) []byte { return b },
		// grayHalf is the images workload's job.
		"grayHalf": kernels.GrayHalf,
		// block holds a worker slot until the caller cancels the call: the
		// burst workload uses it to keep calls queued while it measures the
		// host's heap.
		"block": func(ctx context.Context) error {
			<-ctx.Done()
			return ctx.Err()
		},
	}, opts...)
}
