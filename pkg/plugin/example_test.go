package plugin_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/workestrator/workestrator/pkg/plugin"
)

// A worker's main registers its functions with plugin.Serve; Validate
// checks the same shapes in a test of your own.
func ExampleValidate() {
	methods := plugin.Methods{
		plugin.DefaultMethod: func(ctx context.Context, n int) (float64, error) { return float64(n) / 2, nil },
		"add":                func(a, b, c int) int { return a + b + c },
	}
	fmt.Println(plugin.Validate(methods))

	err := plugin.Validate(plugin.Methods{"bad": func() (int, int) { return 0, 0 }})
	fmt.Println(err)
	// Output:
	// <nil>
	// plugin: method "bad": func() (int, int): results must be (), (T), (error) or (T, error)
}

// A function marks an error that must not be retried with Permanent.
func ExamplePermanent() {
	err := plugin.Permanent(errors.New("invalid input"))
	fmt.Println(err)
	// Output: invalid input
}
