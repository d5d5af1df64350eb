package farm

import (
	"os"
	"strings"

	"github.com/workestrator/workestrator/internal/host"
)

// resolvePath resolves path and dir once, as Config.Path says; what cannot
// be resolved is left as it is, for the start to report.
func resolvePath(path, dir string) (string, string) {
	path, dir, _ = host.ResolvePath(path, dir)
	return path, dir
}

// workerEnv returns the workers' extra environment: c.Env, after
// GOMAXPROCS=1 unless GOMAXPROCS is set already, by c.Env or by the host
// environment the workers get (with SkipHostEnv, only if HostEnv passes
// it). A worker is one of Workers processes sharing the machine's cores;
// one thread for Go code lowers the latency of a call and spends less CPU
// per call.
func workerEnv(c Config) []string {
	if _, ok := os.LookupEnv("GOMAXPROCS"); ok && (!c.SkipHostEnv || host.EnvAllowed(c.HostEnv, "GOMAXPROCS")) {
		return c.Env
	}
	for _, kv := range c.Env {
		if strings.HasPrefix(kv, "GOMAXPROCS=") {
			return c.Env
		}
	}
	return append([]string{"GOMAXPROCS=1"}, c.Env...)
}
