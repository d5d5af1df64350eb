package host_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// The host dials only a socket in the worker's own socket directory, served
// by the worker itself: a worker that advertises another address gets the
// gRPC stream, and the host neither writes the token nor anything else to
// that address (child: it connects, sees another peer, hangs up at once).
func TestDataPlaneAddressChecked(t *testing.T) {
	for _, mode := range []string{"outside", "abstract", "symlink"} {
		t.Run(mode, func(t *testing.T) {
			p, got := launchLiar(t, host.LaunchConfig{}, "LIAR_ADDR="+mode, "LIAR_DIR="+t.TempDir())
			if tp := p.Conn().Transport(); tp != "grpc" {
				t.Fatalf("transport = %s for an address outside the socket directory (%s)", tp, p.Info().DataPlane())
			}
			send(p.Conn(), &wire.Request{ID: 1, Method: "connected"})
			if r := receive(t, got, 10*time.Second); string(r.Result) != "false" {
				t.Fatalf("the host connected to %s: %s", p.Info().DataPlane(), r.Result)
			}
		})
	}
	// A socket in the directory that another process serves: the host
	// connects, sees the peer, and hangs up without writing a byte.
	p, got := launchLiar(t, host.LaunchConfig{}, "LIAR_ADDR=child", "LIAR_DIR="+t.TempDir())
	if tp := p.Conn().Transport(); tp != "grpc" {
		t.Fatalf("transport = %s for a socket served by another process", tp)
	}
	var wrote string
	testutil.Eventually(t, 10*time.Second, "the host's connection to the child to end", func() bool {
		send(p.Conn(), &wire.Request{ID: 1, Method: "child"})
		r := receive(t, got, 10*time.Second)
		return json.Unmarshal(r.Result, &wrote) == nil && wrote != ""
	})
	if wrote != "0" {
		t.Fatalf("the host wrote %s bytes to a socket the worker does not serve", wrote)
	}
	// The liar's honest socket is accepted.
	p, _ = launchLiar(t, host.LaunchConfig{})
	if tp := p.Conn().Transport(); tp != "socket" {
		t.Fatalf("transport = %s for the worker's own socket", tp)
	}
}
