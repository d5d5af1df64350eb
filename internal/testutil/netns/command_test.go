package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestDownKeepsConnections checks that a connection open across Down is
// neither reset nor served while the link is down, either way, and
// carries on after Up.
func TestDownKeepsConnections(t *testing.T) {
	skipUnlessAvailable(t)
	lab := New(t, 1)
	s := serve(t, lab.Addr())
	h := lab.Hosts()[0]
	ctx, cancel := context.WithTimeout(t.Context(), 2*timeout)
	defer cancel()
	cmd := helper(ctx, t, h, "dial", s.addr())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	read := make(chan struct{}) // closed once stdout is read to its end
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-read
		_ = cmd.Wait()
	})
	expect := func(want string) {
		t.Helper()
		select {
		case got := <-lines:
			if got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		case <-time.After(timeout):
			t.Fatalf("no %q within %v", want, timeout)
		}
	}
	send := func(line string) {
		t.Helper()
		if _, err := fmt.Fprintln(stdin, line); err != nil {
			t.Fatal(err)
		}
	}

	send("one")
	expect("echo one")
	var server interface{ Write([]byte) (int, error) }
	select {
	case server = <-s.accepted:
	case <-time.After(timeout):
		t.Fatal("the server accepted no connection")
	}

	if err := h.Down(); err != nil {
		t.Fatal(err)
	}
	send("two")
	if _, err := server.Write([]byte("pushed\n")); err != nil {
		t.Fatal(err)
	}
	// Neither the line nor the push crosses while the link is down; half a
	// second is many round trips on a bridge.
	select {
	case got := <-lines:
		t.Fatalf("%q arrived across a link that is down", got)
	case <-time.After(500 * time.Millisecond):
	}

	if err := h.Up(); err != nil {
		t.Fatal(err)
	}
	expect("pushed") // written by the server before "two" reached it
	expect("echo two")
	send("three")
	expect("echo three")
	stdin.Close()
	<-read
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the connection did not end cleanly: %v", err)
	}
}

// TestCommandIsTheProgram checks that the process Command starts is the
// program itself (ip netns exec execs it) and runs in the host's
// namespace.
func TestCommandIsTheProgram(t *testing.T) {
	skipUnlessAvailable(t)
	lab := New(t, 1)
	h := lab.Hosts()[0]
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	defer cancel()
	cmd := helper(ctx, t, h, "block", "")
	if _, err := cmd.StdinPipe(); err != nil { // held open: the helper blocks
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	proc := func(f string) string { return fmt.Sprintf("/proc/%d/%s", pid, f) }
	eventually(t, "the started process is the helper, not ip", func() bool {
		got, _ := os.Readlink(proc("exe"))
		return got == exe
	})
	var st, want, self syscall.Stat_t
	for p, dst := range map[string]*syscall.Stat_t{proc("ns/net"): &st, nsDir + "/" + h.Name(): &want, "/proc/self/ns/net": &self} {
		if err := syscall.Stat(p, dst); err != nil {
			t.Fatal(err)
		}
	}
	if st.Ino != want.Ino || st.Ino == self.Ino {
		t.Fatalf("the helper's network namespace is inode %d, want %d (the host's), not %d (ours)", st.Ino, want.Ino, self.Ino)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
		t.Fatalf("Wait after SIGTERM: %v, want the helper's death by SIGTERM", err)
	}
}
