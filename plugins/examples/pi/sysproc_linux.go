package main

import "syscall"

// agentSysProcAttr makes the kernel kill an agent when the example ends,
// should it end without killing it (SIGKILL). Pdeathsig follows the thread
// that started the agent; the Go runtime keeps its threads but for those of
// goroutines that exit locked to theirs, which this program has none of.
func agentSysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
