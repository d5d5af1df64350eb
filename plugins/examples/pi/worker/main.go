// Command worker is the π example's worker: its default method counts the
// random points of one chunk that fall inside the quarter circle.
package main

import (
	"github.com/workestrator/workestrator/pkg/plugin"
	"github.com/workestrator/workestrator/plugins/examples/pi/montecarlo"
)

func main() {
	plugin.Serve(plugin.Methods{plugin.DefaultMethod: montecarlo.Inside})
}
