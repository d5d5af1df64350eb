package netns

import (
	"bytes"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// childEnv, set in the environment, makes TestChildLab make a lab and
// print its names, then: "fail" fails the test, "leave" exits without
// cleaning up.
const childEnv = "NETNS_TEST_CHILD"

// TestChildLab runs only as the child process of the tests below.
func TestChildLab(t *testing.T) {
	mode := os.Getenv(childEnv)
	if mode == "" {
		t.Skip("runs only as a child process of TestCleanupAfterFailure and TestSweep")
	}
	lab := New(t, 2)
	os.Stdout.WriteString("NAMES " + strings.Join(names(lab), " ") + "\n")
	if mode == "leave" {
		os.Exit(0) // no cleanup
	}
	t.Fatal("failing on purpose")
}

// names returns the names of the lab's bridge and hosts.
func names(l *Lab) []string {
	n := []string{l.bridge}
	for _, h := range l.Hosts() {
		n = append(n, h.Name())
	}
	return n
}

// existing returns those of names that `ip netns list` or `ip link` shows.
func existing(t *testing.T, names []string) []string {
	t.Helper()
	var shown []string
	for _, args := range [][]string{{"netns", "list"}, {"-o", "link", "show"}} {
		out, err := exec.Command(ipPath(), args...).Output()
		if err != nil {
			t.Fatalf("ip %v: %v", args, err)
		}
		for l := range strings.Lines(string(out)) {
			f := strings.Fields(l) // "NS (id: 3)", or "7: NAME@if2: <...> ..."
			if len(f) > 1 && args[0] == "-o" {
				f = []string{strings.TrimSuffix(strings.Split(f[1], "@")[0], ":")}
			}
			if len(f) > 0 && slices.Contains(names, f[0]) {
				shown = append(shown, f[0])
			}
		}
	}
	return shown
}

func TestCleanupLeavesNothing(t *testing.T) {
	skipUnlessAvailable(t)
	var made []string
	t.Run("lab", func(t *testing.T) {
		lab := New(t, 3)
		made = names(lab)
		got := existing(t, made)
		// Each host is a namespace and a link; the bridge a link.
		if len(got) != 2*len(made)-1 {
			t.Fatalf("ip shows %v of %v", got, made)
		}
	})
	if got := existing(t, made); len(got) > 0 {
		t.Fatalf("left behind: %v", got)
	}
}

// child runs TestChildLab in a child process in mode and returns the
// names it printed and its error.
func child(t *testing.T, mode string) ([]string, error) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run=^TestChildLab$", "-test.v")
	cmd.Env = env(childEnv + "=" + mode)
	out, err := cmd.CombinedOutput()
	_, line, ok := bytes.Cut(out, []byte("NAMES "))
	if !ok {
		t.Fatalf("the child printed no names: %v\n%s", err, out)
	}
	line, _, _ = bytes.Cut(line, []byte("\n"))
	return strings.Fields(string(line)), err
}

func TestCleanupAfterFailure(t *testing.T) {
	skipUnlessAvailable(t)
	made, err := child(t, "fail")
	if err == nil {
		t.Fatal("the child's test passed; it should fail")
	}
	if got := existing(t, made); len(got) > 0 {
		t.Fatalf("left behind by a failed test: %v", got)
	}
}

func TestSweep(t *testing.T) {
	skipUnlessAvailable(t)
	made, err := child(t, "leave")
	if err != nil {
		t.Fatal(err)
	}
	// Another test process's New may have swept some of them already.
	t.Logf("the child left %v", existing(t, made))
	New(t, 0)
	if got := existing(t, made); len(got) > 0 {
		t.Fatalf("New left the dead child's %v", got)
	}
}
