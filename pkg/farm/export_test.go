package farm

import "os"

// WithResultBuffers returns c for a farm that makes result buffers
// (resultbuf.go) whether the process holds a heap reserve or not.
func WithResultBuffers(c Config) Config {
	c.resultBuffers = true
	return c
}

// MakesResultBuffers reports whether f makes result buffers.
func MakesResultBuffers(f *Farm) bool { return f.hints != nil }

// HostHeapReserveFor is the reserve, in bytes, that c asks for.
func HostHeapReserveFor(c Config) int64 { return hostHeapReserve(c) }

// ResidentBytes is the test process's resident memory (readRSS).
func ResidentBytes() (int64, error) { return readRSS(os.Getpid()) }
