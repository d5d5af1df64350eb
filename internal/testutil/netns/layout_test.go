package netns

import (
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// ipOut returns what ip prints for args, failing t on error.
func ipOut(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(ipPath(), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %v: %v: %s", args, err, out)
	}
	return string(out)
}

// TestLayout checks the addresses, that lo is up, that the hosts have
// only their /24 to route to, and that the bridge does not forward.
func TestLayout(t *testing.T) {
	skipUnlessAvailable(t)
	lab := New(t, 2)
	br := netip.MustParseAddr(lab.Addr())
	if !netip.MustParsePrefix("10.213.0.0/16").Contains(br) || br.As4()[3] != 1 {
		t.Fatalf("Addr() = %s, want 10.213.x.1", br)
	}
	if got := ipOut(t, "-4", "-o", "addr", "show", "dev", lab.bridge); !strings.Contains(got, " "+br.String()+"/24 ") {
		t.Errorf("the bridge's addresses: %s", got)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + lab.bridge + "/forwarding"); err != nil || string(b) != "0\n" {
		t.Errorf("the bridge's IPv4 forwarding: %q, %v; want 0", b, err)
	}
	subnet := netip.PrefixFrom(br, 24).Masked().String()
	for i, h := range lab.Hosts() {
		want := br.As4()
		want[3] = byte(i + 2)
		if h.Addr() != netip.AddrFrom4(want).String() {
			t.Errorf("host %d: Addr() = %s, want %s", i, h.Addr(), netip.AddrFrom4(want))
		}
		if got := ipOut(t, "-n", h.Name(), "-4", "-o", "addr", "show", "dev", "eth0"); !strings.Contains(got, " "+h.Addr()+"/24 ") {
			t.Errorf("%s: eth0's addresses: %s", h.Name(), got)
		}
		if got := ipOut(t, "-n", h.Name(), "-o", "link", "show", "dev", "lo"); !strings.Contains(got, ",UP") {
			t.Errorf("%s: lo is not up: %s", h.Name(), got)
		}
		routes := strings.TrimSpace(ipOut(t, "-n", h.Name(), "-4", "route", "show", "table", "main"))
		if !strings.HasPrefix(routes, subnet+" dev eth0 ") || strings.Contains(routes, "\n") {
			t.Errorf("%s: routes %q, want only %s on eth0", h.Name(), routes, subnet)
		}
	}
}

// TestSubnetAvoidsAddresses checks that freeSubnet skips a /24 that an
// interface of the root namespace has an address in.
func TestSubnetAvoidsAddresses(t *testing.T) {
	skipUnlessAvailable(t)
	pid := os.Getpid()
	first, err := freeSubnet(pid, "seed")
	if err != nil {
		t.Fatal(err)
	}
	br := probeName(pid) + "s"
	ipOut(t, "link", "add", br, "type", "bridge")
	t.Cleanup(func() { ipOut(t, "link", "del", br) })
	taken := first.As4()
	taken[3] = 77
	ipOut(t, "addr", "add", netip.AddrFrom4(taken).String()+"/24", "dev", br)
	second, err := freeSubnet(pid, "seed")
	if err != nil {
		t.Fatal(err)
	}
	if netip.PrefixFrom(second, 24).Overlaps(netip.PrefixFrom(first, 24)) {
		t.Fatalf("freeSubnet returned %s, in the /24 of %s that is taken", second, netip.AddrFrom4(taken))
	}
}
