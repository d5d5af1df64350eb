package host

import (
	"os"

	"golang.org/x/sys/unix"
)

// armDeathline makes the kernel signal the process group of the worker
// pid (its own, the worker leads it) with SIGIO when the last write end of
// the death pipe closes while rd, the read end the host keeps, is armed:
// the worker inherits the read end and never reads it, the host keeps the
// write end until the worker is reaped, so that happens only when the host
// dies, whatever the worker does then, a stop's grace included. A worker
// that ignores SIGIO (a Go worker: its runtime does) exits through its own
// watch of the lifeline; any other (a Node.js worker, whose event loop may
// be stuck in a function that never yields, or the shell that wraps one)
// dies of the signal's default action at once, and so do the children it
// left in its group. It reports whether rd is armed.
func armDeathline(rd *os.File, pid int) bool {
	sc, err := rd.SyscallConn()
	if err != nil {
		return false
	}
	armed := false
	_ = sc.Control(func(fd uintptr) {
		if _, err := unix.FcntlInt(fd, unix.F_SETOWN, -pid); err != nil {
			return
		}
		fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0)
		if err != nil {
			return
		}
		_, err = unix.FcntlInt(fd, unix.F_SETFL, fl|unix.O_ASYNC)
		armed = err == nil
	})
	return armed
}

// disarmDeathline stops the signal of armDeathline, once the worker is
// dead.
func disarmDeathline(rd *os.File) {
	sc, err := rd.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		if fl, err := unix.FcntlInt(fd, unix.F_GETFL, 0); err == nil {
			_, _ = unix.FcntlInt(fd, unix.F_SETFL, fl&^unix.O_ASYNC)
		}
		_, _ = unix.FcntlInt(fd, unix.F_SETOWN, 0)
	})
}
