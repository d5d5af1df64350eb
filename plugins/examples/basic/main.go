// Command basic shows the farm in a few lines: it broadcasts "init" to every
// worker, then runs the default method from each of them.
//
//	go run ./plugins/examples/basic
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/plugins/examples/internal/exampleutil"
)

func main() {
	if err := run(context.Background(), os.Stdout, 2); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer, workers int) error {
	bin, cleanup, err := exampleutil.BuildWorker("github.com/workestrator/workestrator/plugins/examples/basic/worker")
	if err != nil {
		return err
	}
	defer cleanup()

	f, err := farm.New(farm.Config{Path: bin, Workers: workers})
	if err != nil {
		return err
	}
	defer f.Kill()

	// Run "init" once on every worker.
	replies, err := f.BroadcastMethod(ctx, "init", "Hello")
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "initialised %d workers\n", len(replies))

	// Then say hello from each worker: calls in flight together spread over
	// the workers, the least busy first. A worker may answer before the next
	// call is even submitted, so ask again until each one has answered.
	var answers []string
	for round := 0; len(answers) < len(replies) && round < 100; round++ {
		futures := make([]*farm.Future, 2*workers)
		for i := range futures {
			futures[i] = f.Go(ctx, "run", "Gopher")
		}
		for _, fu := range futures {
			r, err := fu.Result()
			if err != nil {
				return err
			}
			var s string
			if err := r.Decode(&s); err != nil {
				return err
			}
			if !slices.Contains(answers, s) {
				answers = append(answers, s)
			}
		}
	}
	slices.Sort(answers)
	for _, a := range answers {
		fmt.Fprintln(out, a)
	}
	return f.Shutdown(ctx)
}
