// Command worker is the events example's worker: "work" sleeps a while and
// logs, "crash" makes the process exit the first time a marker file is
// missing.
package main

import (
	"context"
	"os"
	"time"

	"github.com/workestrator/workestrator/pkg/plugin"
)

func main() {
	log := plugin.Logger()
	plugin.Serve(plugin.Methods{
		// work sleeps ms milliseconds (or until cancelled) and returns the pid.
		"work": func(ctx context.Context, ms int) (int, error) {
			log.Debug("working", "ms", ms)
			t := time.NewTimer(time.Duration(ms) * time.Millisecond)
			defer t.Stop()
			select {
			case <-t.C:
				return os.Getpid(), nil
			case <-ctx.Done():
				log.Info("work cancelled", "ms", ms)
				return 0, ctx.Err()
			}
		},
		// crash exits the process unless marker exists, and creates it: the
		// call's retry succeeds on the replacement worker.
		"crash": func(marker string) (int, error) {
			if _, err := os.Stat(marker); err == nil {
				return os.Getpid(), nil
			}
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				return 0, err
			}
			log.Warn("crashing on purpose")
			os.Exit(3)
			return 0, nil
		},
	})
}
