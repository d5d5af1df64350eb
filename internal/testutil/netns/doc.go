// Package netns lays out several "hosts" on one Linux machine for tests
// that need a network between processes: each host is a network namespace
// joined by a veth pair to a bridge in the root namespace.
//
// # Layout
//
// [New] makes a [Lab]: a bridge holding the address [Lab.Addr], x.x.x.1 of
// a /24 taken from 10.213.0.0/16, and n hosts. Host i is a namespace with
// lo up and one interface, eth0, holding x.x.x.(i+2)/24; its peer in the
// root namespace is a port of the bridge. A server in the test process
// listens on [Lab.Addr]; a program started with [Host.Command] reaches it
// over the bridge. The namespaces have no default route, only the /24,
// and the bridge has IPv4 forwarding off, so the hosts reach the bridge's
// address and each other and nothing else. Nothing here adds NAT or
// changes net.ipv4.ip_forward.
//
// A program that is not a test (a benchmark) makes its lab with [Open]
// and deletes it with [Lab.Close].
//
// [Host.Down] cuts a host off (a partition) and [Host.Up] restores it;
// connections open across the cut stay open and resume after Up.
//
// # Names
//
// Every namespace and interface this package makes is named
// "wn<pid>-<lab>" (the bridge) or "wn<pid>-<lab>-<host>" (a host's
// namespace and its veth's root end), the numbers in base 36: pid is the
// test process's, lab a counter in the process, host the host's index.
// Names are thus unique across the processes on the machine and fit the
// 15 bytes of an interface name. [New] first deletes what a process that
// no longer runs left behind, and on its first call in a process what an
// earlier process with the same pid left behind.
//
// # Requirements
//
// Root, the ip command (iproute2) and a kernel with network namespaces,
// veth and bridge. [Available] checks them so that tests can skip with
// the reason.
package netns
