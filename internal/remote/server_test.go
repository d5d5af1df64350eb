package remote

import (
	"net"
	"strings"
	"testing"
	"time"
)

// A listen that fails fails the start at once, with the server's reason.
func TestStartServerPortInUse(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	start := time.Now()
	s, err := StartServer(ServerOptions{Listen: l.Addr().String()})
	if err == nil {
		s.Shutdown()
		t.Fatal("a server started on a port in use")
	}
	if !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("error %q does not say why", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the failure took %v", d)
	}
}
