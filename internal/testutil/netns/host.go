package netns

import (
	"context"
	"os/exec"
)

// Name returns the name of the host's namespace, as `ip netns list` shows
// it. The veth's end in the root namespace has the same name.
func (h *Host) Name() string { return h.name }

// Addr returns the host's address on eth0, such as "10.213.7.2".
func (h *Host) Addr() string { return h.addr.String() }

// Command returns an [exec.Cmd] that runs the program name with args
// inside the host's namespace, as `ip netns exec NS name args...`; ip
// looks name up in the PATH of the command's environment. ip enters the namespace (and a mount namespace of its own, with
// /sys remounted for the network namespace), then execs the program
// without forking, so once the command has started, cmd.Process is the
// program itself: its pid, its signals, its exit status. Cancelling ctx
// kills the program, as with [exec.CommandContext]. A process still
// running when the lab is deleted keeps its namespace alive, cut off.
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, ipPath(), append([]string{"netns", "exec", h.name, name}, args...)...)
}

// Down cuts the host's link: it sets the veth's end in the root namespace
// down. The bridge no longer forwards to that port and the host's eth0,
// which stays up with its address and route, loses its carrier, so
// packets either way are dropped at once. The kernel sends no reset and
// changes nothing in the host's namespace: connections across the link
// stay open, their segments retransmitted, and resume after [Host.Up]; a
// new connection either way times out, or fails with EHOSTUNREACH once
// ARP for its peer has failed. Down of a host that is down does nothing;
// after the lab's cleanup, Down returns an error.
func (h *Host) Down() error { return ip("link", "set", h.name, "down") }

// Up restores the link that [Host.Down] cut; the bridge forwards to the
// port again at once (it runs no STP). Up of a host that is up does
// nothing; after the lab's cleanup, Up returns an error.
func (h *Host) Up() error { return ip("link", "set", h.name, "up") }
