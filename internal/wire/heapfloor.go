package wire

import (
	"fmt"
	"strconv"
)

// The heap floor: a Go worker's heap goal is at least a floor, however
// small the live heap, so that a worker whose calls allocate big transient
// values (a megabyte argument each) collects every twenty calls or so
// rather than every second one. Above the floor, the collector runs as
// GOGC=100 says.
const (
	// EnvHeapFloor is a Go worker's heap floor in bytes, 0 for none; the
	// host sets it from Config.WorkerHeapFloor. A worker whose environment
	// sets GOGC or GOMEMLIMIT keeps the collector as those say.
	EnvHeapFloor = "WORKESTRATOR_HEAP_FLOOR_BYTES"
	// DefaultHeapFloor is the floor of a worker given none: 32 MiB.
	DefaultHeapFloor = 32 << 20
	// MaxHeapFloor is the highest floor: 1 TiB.
	MaxHeapFloor = 1 << 40
)

// ParseHeapFloor reads EnvHeapFloor's value v; empty is DefaultHeapFloor.
func ParseHeapFloor(v string) (int64, error) {
	if v == "" {
		return DefaultHeapFloor, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > MaxHeapFloor {
		return 0, fmt.Errorf("%s=%q: want bytes from 0 (none) to %d", EnvHeapFloor, v, int64(MaxHeapFloor))
	}
	return n, nil
}
