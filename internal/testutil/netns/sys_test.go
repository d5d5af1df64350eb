package netns

import "testing"

func TestNames(t *testing.T) {
	const maxPid = 1 << 22 // PID_MAX_LIMIT on 64-bit Linux
	if s := name(maxPid, 36*36*36*36-1, MaxHosts-1); len(s) > maxIfName {
		t.Errorf("%s: %d bytes, more than %d", s, len(s), maxIfName)
	}
	for _, s := range []string{name(maxPid, 5), name(maxPid, 5, 2), probeName(maxPid), probeName(maxPid) + "b"} {
		if pid, ok := owner(s); !ok || pid != maxPid {
			t.Errorf("owner(%q) = %d, %v; want %d, true", s, pid, ok, maxPid)
		}
	}
	for _, s := range []string{"eth0", "wn", "wn1", "wn1-", "wn-1", "wn!-1", "wn1-x y", "wnlan-Ab", "xwn1-1"} {
		if pid, ok := owner(s); ok {
			t.Errorf("owner(%q) = %d, true; want false", s, pid)
		}
	}
}
