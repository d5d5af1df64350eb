package farm

import (
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
)

// resolvePath resolves path and dir once, as Config.Path says; what cannot
// be resolved is left as it is, for the start to report.
func resolvePath(path, dir string) (string, string) {
	path, dir, _ = host.ResolvePath(path, dir)
	return path, dir
}

// workerEnv returns the workers' extra environment: c.Env, with
// WORKESTRATOR_IDLE_SPIN_US from a non-zero c.IdleSpin and
// WORKESTRATOR_HEAP_FLOOR_BYTES from a floor other than the workers'
// default (heapFloor), unless c.Env sets them, after GOMAXPROCS=1 unless
// GOMAXPROCS is set already, by c.Env or by the host environment the
// workers get (with SkipHostEnv, only if HostEnv passes it). A worker is
// one of Workers processes sharing the machine's cores; one thread for Go
// code lowers the latency of a call and spends less CPU per call.
func workerEnv(c Config) []string {
	env := c.Env
	if c.IdleSpin != 0 && !setsEnv(c.Env, wire.EnvIdleSpin) {
		us := (max(c.IdleSpin, 0) + time.Microsecond - 1) / time.Microsecond
		env = append(slices.Clip(env), wire.EnvIdleSpin+"="+strconv.FormatInt(int64(us), 10))
	}
	if floor, ok := heapFloor(c); ok && !setsEnv(c.Env, wire.EnvHeapFloor) {
		env = append(slices.Clip(env), wire.EnvHeapFloor+"="+strconv.FormatInt(floor, 10))
	}
	if _, ok := os.LookupEnv("GOMAXPROCS"); ok && (!c.SkipHostEnv || host.EnvAllowed(c.HostEnv, "GOMAXPROCS")) {
		return env
	}
	if setsEnv(c.Env, "GOMAXPROCS") {
		return env
	}
	return append([]string{"GOMAXPROCS=1"}, env...)
}

// setsEnv reports whether env sets the variable name.
func setsEnv(env []string, name string) bool {
	for _, kv := range env {
		if strings.HasPrefix(kv, name+"=") {
			return true
		}
	}
	return false
}

// heapFloor is the workers' heap floor (Config.WorkerHeapFloor), and
// whether the workers must be told it: the default needs no telling unless
// a memory limit lowers it.
func heapFloor(c Config) (int64, bool) {
	switch limit := memoryLimit(c); {
	case c.WorkerHeapFloor < 0:
		return 0, true
	case c.WorkerHeapFloor > 0:
		return c.WorkerHeapFloor, true
	case limit > 0 && limit/4 < DefaultWorkerHeapFloor:
		// A quarter: an idle worker's own RSS (about 13 MB) and the
		// floor's garbage stay under any limit above 18 MiB.
		return limit / 4, true
	}
	return DefaultWorkerHeapFloor, false
}

// memoryLimit is the lower of c's memory limits, 0 without one.
func memoryLimit(c Config) int64 {
	switch soft, hard := c.MaxWorkerMemory, c.MaxWorkerMemoryHard; {
	case soft > 0 && hard > 0:
		return min(soft, hard)
	case soft > 0:
		return soft
	}
	return c.MaxWorkerMemoryHard
}
