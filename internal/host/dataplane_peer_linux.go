package host

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// checkPeer checks that the process at the other end of c is pid (when
// pid is not 0) or a process of its group (a worker started through a
// wrapper script that does not exec it), and runs as the host's user.
func checkPeer(c *net.UnixConn, pid int) error {
	raw, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("peer credentials: %w", credErr)
	}
	if int(cred.Uid) != os.Getuid() || (pid != 0 && int(cred.Pid) != pid && processGroup(int(cred.Pid)) != pid) {
		return fmt.Errorf("served by pid %d uid %d, not the worker (pid %d uid %d)", cred.Pid, cred.Uid, pid, os.Getuid())
	}
	return nil
}

// processGroup returns the process group of pid, or 0 if it has none.
func processGroup(pid int) int {
	pgid, err := syscall.Getpgid(pid)
	if err != nil {
		return 0
	}
	return pgid
}
