package netns

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// helperEnv, when set in the environment, makes the test binary a helper
// program instead of running tests: "dial" copies stdin to a TCP
// connection to $NETNS_TEST_ADDR and the connection to stdout; "block"
// reads stdin to its end.
const (
	helperEnv = "NETNS_TEST_HELPER"
	addrEnv   = "NETNS_TEST_ADDR"
)

// timeout bounds every wait in these tests.
const timeout = 20 * time.Second

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "dial":
		os.Exit(dial(os.Getenv(addrEnv)))
	case "block":
		_, _ = io.Copy(io.Discard, os.Stdin)
		os.Exit(0)
	}
	goleak.VerifyTestMain(m)
}

// dial is the "dial" helper: it connects within a second, then copies
// stdin to the connection and, once stdin ends, half-closes it and waits
// for the peer to close. It returns the exit code.
func dial(addr string) int {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(os.Stdout, c)
		done <- err
	}()
	if _, err := io.Copy(c, os.Stdin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// skipUnlessAvailable skips t, with the reason, where namespaces cannot
// be made.
func skipUnlessAvailable(t *testing.T) {
	t.Helper()
	if ok, why := Available(); !ok {
		t.Skip(why)
	}
}

// echoServer answers each line it reads on a connection with "echo " and
// the line, and closes the connection when the client closes its side.
type echoServer struct {
	ln       net.Listener
	accepted chan net.Conn // each connection accepted, if there is room
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]bool
}

// serve starts an echoServer on addr and registers its stop on t.
func serve(t *testing.T, addr string) *echoServer {
	ln, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, accepted: make(chan net.Conn, 16), conns: map[net.Conn]bool{}}
	s.wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			select {
			case s.accepted <- c:
			default:
			}
			s.wg.Go(func() { s.echo(c) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		s.mu.Lock()
		for c := range s.conns {
			c.Close()
		}
		s.mu.Unlock()
		s.wg.Wait()
	})
	return s
}

func (s *echoServer) echo(c net.Conn) {
	defer c.Close()
	sc := bufio.NewScanner(c)
	for sc.Scan() {
		if _, err := fmt.Fprintf(c, "echo %s\n", sc.Text()); err != nil {
			return
		}
	}
}

// addr returns the address the server listens on, host:port.
func (s *echoServer) addr() string { return s.ln.Addr().String() }

// helper returns the test binary as a helper of the given mode in h.
func helper(ctx context.Context, t *testing.T, h *Host, mode, addr string) *exec.Cmd {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := h.Command(ctx, exe)
	cmd.Env = env(helperEnv+"="+mode, addrEnv+"="+addr)
	cmd.WaitDelay = time.Second
	return cmd
}

// env returns the environment for a child test binary: ours with kv
// added, and GORACE telling the race detector's runtime not to sleep a
// second at exit, as it does by default.
func env(kv ...string) []string {
	race := strings.TrimSpace(os.Getenv("GORACE") + " atexit_sleep_ms=0")
	return append(append(os.Environ(), kv...), "GORACE="+race)
}

// exchange sends line from h to s over a new connection and returns the
// error, or the reply if it is not the echo of line.
func exchange(t *testing.T, h *Host, s *echoServer, line string) error {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	cmd := helper(ctx, t, h, "dial", s.addr())
	cmd.Stdin = strings.NewReader(line + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", h.Name(), err, bytes.TrimSpace(stderr.Bytes()))
	}
	if want := "echo " + line + "\n"; string(out) != want {
		return fmt.Errorf("%s: reply %q, want %q", h.Name(), out, want)
	}
	return nil
}

// eventually polls cond until it holds, and fails t if that takes longer
// than timeout.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting until %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestDownPartitionsOneHost(t *testing.T) {
	skipUnlessAvailable(t)
	lab := New(t, 2)
	s := serve(t, lab.Addr())
	a, b := lab.Hosts()[0], lab.Hosts()[1]
	for _, h := range lab.Hosts() {
		if err := exchange(t, h, s, "hello from "+h.Name()); err != nil {
			t.Fatal(err)
		}
	}

	if err := a.Down(); err != nil {
		t.Fatal(err)
	}
	var last error
	eventually(t, "an exchange from the host that is down fails", func() bool {
		last = exchange(t, a, s, "cut")
		return last != nil
	})
	t.Logf("down: %v", last)
	if err := exchange(t, b, s, "still here"); err != nil {
		t.Fatalf("the other host: %v", err)
	}

	if err := a.Up(); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an exchange from the host that is up again works", func() bool {
		last = exchange(t, a, s, "back")
		return last == nil
	})
	if err := exchange(t, b, s, "still here"); err != nil {
		t.Fatalf("the other host: %v", err)
	}
}
