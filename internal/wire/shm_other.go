//go:build !linux

package wire

import "errors"

// ShmSupported reports whether this system has shared memory arenas.
const ShmSupported = false

var errNoShm = errors.New("shared memory arenas need Linux")

func CreateArena(int) ([]byte, int, error)  { return nil, -1, errNoShm }
func MapArena(int, int) ([]byte, error)     { return nil, errNoShm }
func UnmapArena([]byte)                     {}
func CloseFD(int)                           {}
func Rights(int) []byte                     { return nil }
func ParseRights([]byte, bool) (int, error) { return -1, errNoShm }
func RightsSpace() int                      { return 0 }
