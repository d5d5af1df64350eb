package remote

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
)

func TestRedactURLs(t *testing.T) {
	for in, want := range map[string]string{
		"nats://127.0.0.1:4222":                    "nats://127.0.0.1:4222",
		"nats://u:secret@a:4222,nats://tok@b:4222": "nats://xxxxx@a:4222,nats://xxxxx@b:4222",
		"nats://a:4222, nats://u:p@b:4222":         "nats://a:4222, nats://xxxxx@b:4222",
		"not a url %":                              "not a url %",
		"tls://token-only@host.example:4222":       "tls://xxxxx@host.example:4222",
	} {
		if got := RedactURLs(in); got != want {
			t.Errorf("RedactURLs(%q) = %q, want %q", in, got, want)
		}
	}
}

// closedPort returns a loopback address that nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// A refused dial is unreachable and waited for, up to the bound; an
// authorization violation is not.
func TestConnectWait(t *testing.T) {
	log := hclog.NewNullLogger()
	url := "nats://" + closedPort(t)
	start := time.Now()
	_, err := ConnectWait(context.Background(), url, nil, 600*time.Millisecond, log)
	if !Unreachable(err) || !strings.Contains(err.Error(), "no server answered") {
		t.Fatalf("closed port: %v, want an unreachable error after retries", err)
	}
	if d := time.Since(start); d < 600*time.Millisecond {
		t.Errorf("gave up after %v, before the 600ms bound", d)
	}

	// A port that cannot be dialled is not waited for.
	if _, err := ConnectWait(context.Background(), "nats://127.0.0.1:99999", nil, time.Minute, log); err == nil || Unreachable(err) || strings.Contains(err.Error(), "no server answered") {
		t.Errorf("port 99999: %v, want one attempt's error", err)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ConnectWait(ctx, url, nil, time.Minute, log); !errors.Is(err, context.Canceled) {
		t.Errorf("ended context: %v, want context.Canceled", err)
	}

	srv, err := StartServer(ServerOptions{Listen: "127.0.0.1:0", Token: "right"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown()
	start = time.Now()
	_, err = ConnectWait(context.Background(), srv.ClientURL(), []nats.Option{nats.Token("wrong")}, time.Minute, log)
	if err == nil || Unreachable(err) || !strings.Contains(strings.ToLower(err.Error()), "authorization violation") {
		t.Fatalf("wrong token: %v, want an authorization violation", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a refusal took %v: it was retried", d)
	}
	nc, err := ConnectWait(context.Background(), srv.ClientURL(), []nats.Option{nats.Token("right")}, time.Minute, log)
	if err != nil {
		t.Fatal(err)
	}
	nc.Close()
}

// A context that ends while an attempt waits for a server that accepted
// the connection and stays silent ends the attempt, well before its 5 s
// timeout; the connection is closed.
func TestConnectWaitEndsAttempt(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		if c, err := l.Accept(); err == nil {
			accepted <- c
		}
	}()
	log := hclog.NewNullLogger()
	opts, err := Options("test", Auth{}, log, Handlers{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := ConnectWait(ctx, "nats://"+l.Addr().String(), opts, time.Minute, log)
		done <- err
	}()
	var c net.Conn
	select {
	case c = <-accepted:
	case <-time.After(10 * time.Second):
		t.Fatal("ConnectWait did not dial the listener")
	}
	defer c.Close()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(dialTimeout):
		t.Fatal("the attempt outlived its context")
	}
	if d := time.Since(start); d >= dialTimeout {
		t.Errorf("returned after %v, not before the attempt's %v timeout", d, dialTimeout)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Read(make([]byte, 1024)); err == nil {
		// nats may write CONNECT only after INFO, so any bytes mean a bug
		t.Errorf("the client wrote to a server that never spoke")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Errorf("the client's connection stayed open")
	}
}
