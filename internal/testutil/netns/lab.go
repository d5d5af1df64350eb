package netns

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

// MaxHosts is the most hosts a lab holds: a /24 less the network, the
// broadcast and the bridge's addresses.
const MaxHosts = 253

// labs counts the labs made in this process; it numbers them.
var labs atomic.Int64

// Lab is a bridge in the root namespace with hosts attached, made by
// [New]. It is safe for concurrent use.
type Lab struct {
	bridge string
	addr   netip.Addr
	hosts  []*Host
	undo   [][]string // ip commands that delete what New made, in the order made

	closeOnce sync.Once
	closeErr  error
}

// Host is a network namespace whose eth0 is joined to its lab's bridge by
// a veth pair. It is safe for concurrent use.
type Host struct {
	name string // the namespace's, and the veth's root end's
	addr netip.Addr
}

// New makes a lab with n hosts (0 to [MaxHosts]) on a /24 of
// 10.213.0.0/16 that overlaps no address of an interface in the root
// namespace. Before it makes anything it registers a cleanup on tb that
// deletes everything it made, whether the test passes or fails, and it
// calls tb.Fatal on error (the cleanup then deletes what it had made).
// It first deletes what earlier processes left behind (see the package
// documentation). It blocks while another process sweeps or chooses a
// subnet, which takes milliseconds.
func New(tb testing.TB, n int) *Lab {
	tb.Helper()
	l, pid, c, err := newLab(n)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := l.close(); err != nil {
			tb.Errorf("netns: deleting lab %s: %v", l.bridge, err)
		}
	})
	if err := l.make(pid, c, n); err != nil {
		tb.Fatalf("netns: making lab %s: %v", l.bridge, err)
	}
	return l
}

// Open is [New] for a program that is not a test, such as a benchmark:
// it returns its error instead of failing a test, after deleting what it
// had made, and the caller deletes the lab with [Lab.Close].
func Open(n int) (*Lab, error) {
	l, pid, c, err := newLab(n)
	if err != nil {
		return nil, err
	}
	if err := l.make(pid, c, n); err != nil {
		return nil, errors.Join(fmt.Errorf("netns: making lab %s: %w", l.bridge, err), l.close())
	}
	return l, nil
}

// newLab checks n and names a new lab of this process; it makes nothing.
func newLab(n int) (l *Lab, pid, c int, err error) {
	if n < 0 || n > MaxHosts {
		return nil, 0, 0, fmt.Errorf("netns: %d hosts: a lab holds 0 to %d", n, MaxHosts)
	}
	pid = os.Getpid()
	c = int(labs.Add(1))
	if last := name(pid, c, MaxHosts-1); len(last) > maxIfName {
		return nil, 0, 0, fmt.Errorf("netns: too many labs in this process: name %s is longer than %d bytes", last, maxIfName)
	}
	return &Lab{bridge: name(pid, c)}, pid, c, nil
}

// Close deletes the lab: its hosts, their links and the bridge. A
// process still running in a host keeps that namespace alive, cut off
// (see [Host.Command]). Only the first call deletes; later calls return
// its result. A lab made by [New] is deleted by the test's cleanup, which
// Close only brings forward.
func (l *Lab) Close() error { return l.close() }

// make makes the bridge, then n hosts, noting in l.undo how to delete
// each thing as soon as it exists.
func (l *Lab) make(pid, c, n int) error {
	if err := l.makeBridge(pid); err != nil {
		return err
	}
	for i := range n {
		a := l.addr.As4()
		a[3] = byte(i + 2)
		h := &Host{name: name(pid, c, i), addr: netip.AddrFrom4(a)}
		if err := ip("netns", "add", h.name); err != nil {
			return err
		}
		l.undo = append(l.undo, []string{"netns", "del", h.name})
		if err := ip("link", "add", h.name, "type", "veth", "peer", "name", "eth0", "netns", h.name); err != nil {
			return err
		}
		l.undo = append(l.undo, []string{"link", "del", h.name})
		l.hosts = append(l.hosts, h)
		pfx := netip.PrefixFrom(h.addr, 24).String()
		for _, args := range [][]string{
			{"link", "set", h.name, "master", l.bridge},
			{"link", "set", h.name, "up"},
			{"-n", h.name, "link", "set", "lo", "up"},
			{"-n", h.name, "addr", "add", pfx, "dev", "eth0"},
			{"-n", h.name, "link", "set", "eth0", "up"},
		} {
			if err := ip(args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// close deletes what New made, last made first, and returns the errors;
// once: later calls return the first one's result.
func (l *Lab) close() error {
	l.closeOnce.Do(func() {
		var errs []error
		for i := len(l.undo) - 1; i >= 0; i-- {
			errs = append(errs, ip(l.undo[i]...))
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// Addr returns the bridge's address in the root namespace, such as
// "10.213.7.1": servers for the hosts listen on it.
func (l *Lab) Addr() string { return l.addr.String() }

// Hosts returns the lab's hosts, in order of their addresses; host i has
// the address x.x.x.(i+2). The slice is a copy.
func (l *Lab) Hosts() []*Host { return slices.Clone(l.hosts) }

// makeBridge sweeps, then, holding the cross-process lock, picks a free
// /24 and makes the bridge with its first address, IPv4 forwarding off.
func (l *Lab) makeBridge(pid int) error {
	unlock, err := lock()
	if err != nil {
		return err
	}
	defer unlock()
	sweep()
	l.addr, err = freeSubnet(pid, l.bridge)
	if err != nil {
		return err
	}
	if err := ip("link", "add", l.bridge, "type", "bridge"); err != nil {
		return err
	}
	l.undo = append(l.undo, []string{"link", "del", l.bridge})
	// The bridge routes nothing it receives, whatever ip_forward says.
	if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+l.bridge+"/forwarding", []byte("0"), 0); err != nil {
		return err
	}
	if err := ip("addr", "add", netip.PrefixFrom(l.addr, 24).String(), "dev", l.bridge); err != nil {
		return err
	}
	return ip("link", "set", l.bridge, "up")
}

// freeSubnet returns x.x.x.1 of the first /24 of 10.213.0.0/16, starting
// at one hashed from pid and seed and going round, that overlaps no
// address of the root namespace's interfaces.
func freeSubnet(pid int, seed string) (netip.Addr, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return netip.Addr{}, err
	}
	var used []netip.Prefix
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok {
			if p, err := netip.ParsePrefix(n.String()); err == nil && p.Addr().Is4() {
				used = append(used, p.Masked())
			}
		}
	}
	h := fnv.New32a()
	fmt.Fprintf(h, "%d/%s", pid, seed)
	start := h.Sum32() % 256
next:
	for i := range uint32(256) {
		p := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 213, byte(start + i), 0}), 24)
		for _, u := range used {
			if u.Overlaps(p) {
				continue next
			}
		}
		return p.Addr().Next(), nil
	}
	return netip.Addr{}, fmt.Errorf("no free /24 in 10.213.0.0/16")
}
