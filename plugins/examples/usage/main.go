// Command usage starts a farm of ./bin/worker and calls it in each of the
// ways a host can. From this directory:
//
//	CGO_ENABLED=0 go build -o ./bin/worker ./worker
//	go run .
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"os"

	"github.com/workestrator/workestrator/pkg/farm"
)

func main() {
	if err := run(context.Background(), os.Stdout, "./bin/worker"); err != nil {
		log.Fatal(err)
	}
}

func run(ctx context.Context, out io.Writer, path string) error {
	f, err := farm.New(farm.Config{Path: path}) // one worker per CPU
	if err != nil {
		return err
	}
	defer f.Kill()

	replies, err := f.BroadcastMethod(ctx, "init", 10) // once on every worker
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "initialised %d workers\n", len(replies))

	sum, err := farm.Call[int](ctx, f, "add", 1, 2, 3) // typed
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "add(1, 2, 3) =", sum)

	r, err := f.Run(ctx, 42) // the default method
	if err != nil {
		return err
	}
	var n int
	if err := r.Decode(&n); err != nil {
		return err
	}
	fmt.Fprintln(out, "run(42) =", n)

	fu := f.Go(ctx, "add", 4, 5, 6) // asynchronous: no goroutine per call
	<-fu.Done()                     // or select on it
	r, err = fu.Result()
	if err != nil {
		return err
	}
	if err := r.Decode(&n); err != nil {
		return err
	}
	fmt.Fprintln(out, "add(4, 5, 6) =", n)

	return f.Shutdown(ctx) // drain, then stop (Kill stops at once)
}
