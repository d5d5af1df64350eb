// Command worker is the usage example's worker: a small main package that
// registers plain Go functions.
package main

import (
	"context"
	"sync/atomic"

	"github.com/workestrator/workestrator/pkg/plugin"
)

var scale atomic.Int64

func main() {
	plugin.Serve(plugin.Methods{
		"init": func(s int) { scale.Store(int64(s)) },
		"add":  func(a, b, c int) int { return a + b + c },
		plugin.DefaultMethod: func(ctx context.Context, n int) (int, error) { // what Run calls
			if err := ctx.Err(); err != nil {
				return 0, err // the call timed out or its caller gave up
			}
			return n * int(scale.Load()), nil
		},
	})
}
