//go:build !linux

package wire

import "errors"

// ShmSupported reports whether this system has shared memory arenas.
const ShmSupported = false

var errNoShm = errors.New("shared memory arenas need Linux")

// CreateArena fails: there are no arenas on this system.
func CreateArena(int) ([]byte, int, error) { return nil, -1, errNoShm }

// MapArena fails: there are no arenas on this system.
func MapArena(int, int) ([]byte, error) { return nil, errNoShm }

// UnmapArena does nothing.
func UnmapArena([]byte) {}

// CloseFD does nothing.
func CloseFD(int) {}

// Rights is empty: no descriptor is passed on this system.
func Rights(int) []byte { return nil }

// ParseRights fails: no descriptor is taken on this system.
func ParseRights([]byte, bool) (int, error) { return -1, errNoShm }

// RightsSpace is 0: no room for descriptors.
func RightsSpace() int { return 0 }
