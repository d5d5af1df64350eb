package farm

import (
	"math"
	"os"
	"runtime/metrics"
	"strconv"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// DefaultHostHeapReserve is the host's heap reserve when
// Config.HostHeapReserve is 0: 64 MiB, or an eighth of the memory limit of
// the process's cgroup when that is less (rounded down to a MiB: none under
// a limit of 8 MiB).
const DefaultHostHeapReserve = 64 << 20

// HostHeapReserveOff as Config.HostHeapReserve asks for no reserve.
const HostHeapReserveOff = -1

// MinHostHeapReserve is the least positive Config.HostHeapReserve: 1 MiB.
const MinHostHeapReserve = 1 << 20

// MaxHostHeapReserve is the highest Config.HostHeapReserve: 4 GiB, or
// 256 MiB on a 32-bit platform, whose address space is smaller.
const MaxHostHeapReserve = 1 << (24 + strconv.IntSize/8)

// heapReserve is the process's heap reserve: one allocation that nothing
// reads or writes, which the garbage collector counts as live heap and
// marks at no cost (it holds no pointers). It only grows, and is held for
// the life of the process: dropping it when the last farm ends would make
// the next farm's New zero a reused one (tens of milliseconds, resident
// until released).
var heapReserve struct {
	mu sync.Mutex
	b  []byte
}

// holdHeapReserve makes the process's heap reserve at least the size the
// farm's configuration asks for, unless the process's garbage collector
// is tuned (gcTuned): its settings stand as their owner chose them (a
// reserve counts against a memory limit and would only make collections
// more frequent near it). It returns the size of the reserve the process
// holds, 0 for none.
func holdHeapReserve(c Config, log hclog.Logger) int {
	size := hostHeapReserve(c)
	heapReserve.mu.Lock()
	defer heapReserve.mu.Unlock()
	if size <= int64(len(heapReserve.b)) {
		return len(heapReserve.b)
	}
	if why := gcTuned(); why != "" {
		log.Debug("no host heap reserve: the process's GC is tuned", "why", why, "reserve", size)
		return len(heapReserve.b)
	}
	b := make([]byte, size)
	// A reused span is zeroed by make, and so resident: give its pages
	// back; nothing reads them.
	releasePages(b)
	heapReserve.b = b
	return len(b)
}

// hostHeapReserve is the reserve c asks for, in bytes; 0 for none.
func hostHeapReserve(c Config) int64 {
	switch {
	case c.HostHeapReserve < 0:
		return 0
	case c.HostHeapReserve > 0:
		return c.HostHeapReserve
	}
	if limit := cgroupMemoryLimit(); limit > 0 && limit/8 < DefaultHostHeapReserve {
		return limit / 8 &^ (1<<20 - 1)
	}
	return DefaultHostHeapReserve
}

// gcTuned says why the process's garbage collector counts as tuned, "" if
// it does not: GOGC or GOMEMLIMIT set in the environment (even to the
// defaults), or a GC percent other than 100 or a memory limit set by code
// (runtime/debug); also when the runtime's metrics cannot tell.
func gcTuned() string {
	for _, name := range []string{"GOGC", "GOMEMLIMIT"} {
		if os.Getenv(name) != "" {
			return name + " is set"
		}
	}
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	switch {
	case s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64:
		return "the runtime's GC metrics are not available"
	case s[0].Value.Uint64() != 100:
		return "the GC percent is not 100"
	case s[1].Value.Uint64() != math.MaxInt64:
		return "a memory limit is set"
	}
	return ""
}
