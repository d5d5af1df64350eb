//go:build !linux

package main

import "syscall"

// agentSysProcAttr is nil: without Linux's Pdeathsig, an agent outlives an
// example killed with SIGKILL (it then serves nobody).
func agentSysProcAttr() *syscall.SysProcAttr { return nil }
