// Command worker is the basic example's worker: "init" stores a greeting,
// the default method says hello with it.
package main

import (
	"fmt"
	"os"
	"sync"

	"github.com/workestrator/workestrator/pkg/plugin"
)

var (
	mu       sync.Mutex
	greeting = "(not initialised)"
)

func main() {
	plugin.Serve(plugin.Methods{
		"init": func(g string) int {
			mu.Lock()
			defer mu.Unlock()
			greeting = g
			plugin.Logger().Debug("initialised", "greeting", g)
			return os.Getpid()
		},
		plugin.DefaultMethod: func(name string) string {
			mu.Lock()
			defer mu.Unlock()
			return fmt.Sprintf("%s, %s, from worker %d", greeting, name, os.Getpid())
		},
	})
}
