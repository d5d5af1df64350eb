package netns

import (
	"strings"
	"testing"
)

// Open makes a lab without a test; Close deletes all of it, once.
func TestOpenClose(t *testing.T) {
	skipUnlessAvailable(t)
	lab, err := Open(2)
	if err != nil {
		t.Fatal(err)
	}
	made := names(lab)
	t.Cleanup(func() { _ = lab.Close() }) // if the test fails before Close
	if got := existing(t, made); len(got) != 2*len(made)-1 {
		t.Fatalf("ip shows %v of %v", got, made)
	}
	out, err := lab.Hosts()[0].Command(t.Context(), "ip", "-o", "-4", "addr", "show", "dev", "eth0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), lab.Hosts()[0].Addr()+"/24") {
		t.Fatalf("eth0 of host 0: %v: %s", err, out)
	}
	if err := lab.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if got := existing(t, made); len(got) > 0 {
		t.Fatalf("left behind by Close: %v", got)
	}
	if err := lab.Close(); err != nil {
		t.Fatalf("a second Close: %v, want nil", err)
	}
}

// A lab of New closed early leaves its test's cleanup nothing to do (it
// reports no error).
func TestCloseOfNewLab(t *testing.T) {
	skipUnlessAvailable(t)
	var made []string
	t.Run("lab", func(t *testing.T) {
		lab := New(t, 1)
		made = names(lab)
		if err := lab.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
	if got := existing(t, made); len(got) > 0 {
		t.Fatalf("left behind: %v", got)
	}
}

func TestOpenRefusesBadCounts(t *testing.T) {
	for _, n := range []int{-1, MaxHosts + 1} {
		if lab, err := Open(n); err == nil {
			_ = lab.Close()
			t.Errorf("Open(%d): no error", n)
		}
	}
}
