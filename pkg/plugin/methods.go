package plugin

import (
	"github.com/workestrator/workestrator/internal/worker"
)

// DefaultMethod is the name under which the function that a farm's Run calls
// is registered (farm.DefaultMethod on the host).
const DefaultMethod = "run"

// Methods maps method names to plain Go functions. A function may take a
// context.Context first, then any number of arguments of types the
// serializer can decode (a final variadic parameter takes the remaining
// arguments), and return nothing, a value, an error, or a value and an error.
//
//	plugin.Methods{
//		plugin.DefaultMethod: func(ctx context.Context, n int) (float64, error) { ... },
//		"add":                func(a, b, c int) int { return a + b + c },
//	}
type Methods map[string]any

// Validate checks every function's shape and returns an error naming each
// method that is not a valid worker function. [Serve] runs it at start-up.
func Validate(methods Methods) error { return worker.Validate(worker.Methods(methods)) }
