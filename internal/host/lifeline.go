package host

import (
	"os"

	"golang.org/x/sys/unix"
)

// armLifeline makes the kernel signal the process group of the worker pid
// (its own, the worker leads it) with SIGIO when the lifeline's last write
// end closes while rd, the read end the host keeps, is armed: when the
// host dies. A worker that ignores SIGIO (a Go worker: its runtime does)
// exits through its own watch of the lifeline; any other (a Node.js
// worker, whose event loop may be stuck in a function that never yields,
// or the shell that wraps one) dies of the signal's default action at
// once, and so do the children it left in its group. It reports whether rd
// is armed.
func armLifeline(rd *os.File, pid int) bool {
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

// disarmLifeline stops the signal of armLifeline: before the host closes
// the lifeline to ask the worker to exit, and once the worker is dead, while
// its pid is not reusable yet.
func disarmLifeline(rd *os.File) {
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
