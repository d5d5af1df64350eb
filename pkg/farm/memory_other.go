//go:build !linux

package farm

import "errors"

// rssSupported reports whether readRSS can measure a process: only on
// Linux, which has /proc.
const rssSupported = false

func readRSS(int) (int64, error) {
	return 0, errors.New("farm: resident memory is read from /proc, on Linux only")
}

func readShmem(int) (int64, error) {
	return 0, errors.New("farm: resident memory is read from /proc, on Linux only")
}
