package remote

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"

	"github.com/workestrator/workestrator/internal/wire"
)

// Auth is how a host or an agent proves itself to the NATS server.
type Auth struct {
	// Token is the server's authorization token.
	Token string
	// NKeyFile is a file holding an NKey seed (a user's, "SU...").
	NKeyFile string
	// TLS, when set, secures the connection.
	TLS *tls.Config
}

// Handlers are told of a connection's state changes; any may be nil.
type Handlers struct {
	Disconnected func(err error)
	Reconnected  func()
	Closed       func()
}

// Options returns the nats.Options of a connection named name with auth:
// it reconnects forever (every 250 ms, with a short jitter), buffers up to
// 8 MiB while disconnected, and reports to h and log.
func Options(name string, auth Auth, log hclog.Logger, h Handlers) ([]nats.Option, error) {
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectJitter(50*time.Millisecond, 250*time.Millisecond),
		nats.ReconnectBufSize(8 << 20),
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(2),
		nats.Timeout(dialTimeout),
		nats.SetCustomDialer(&rawDialer{}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats connection lost; reconnecting", "error", err)
			} else {
				log.Debug("nats disconnected")
			}
			if h.Disconnected != nil {
				h.Disconnected(err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted())
			if h.Reconnected != nil {
				h.Reconnected()
			}
		}),
		nats.ClosedHandler(func(*nats.Conn) {
			if h.Closed != nil {
				h.Closed()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			log.Warn("nats error", "subject", subject, "error", err)
		}),
	}
	if auth.Token != "" && auth.NKeyFile != "" {
		return nil, fmt.Errorf("a token and an NKey: give one")
	}
	if auth.Token != "" {
		opts = append(opts, nats.Token(auth.Token))
	}
	if auth.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(auth.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("NKey seed %s: %w", auth.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if auth.TLS != nil {
		opts = append(opts, nats.Secure(auth.TLS))
	}
	return opts, nil
}

// dialTimeout bounds the dial of a NATS server.
const dialTimeout = 5 * time.Second

// rawDialer dials a NATS server over TCP and reads and writes the
// connection with raw system calls (wire.RawTCPConn): in an agent that
// waits for its next calls, the runtime's path woke its monitor thread on
// every message. Between begin and end, a dial, and the reads and writes
// of the connection it makes, end when begin's context does.
type rawDialer struct {
	mu    sync.Mutex
	ctx   context.Context
	stops []func() bool
}

// begin makes the dials that follow, and their connections' I/O, end when
// ctx does, until end.
func (d *rawDialer) begin(ctx context.Context) {
	d.mu.Lock()
	d.ctx = ctx
	d.mu.Unlock()
}

// end stops what begin started: later dials (reconnects) and the
// connections made before are no longer bound to its context.
func (d *rawDialer) end() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
	d.ctx, d.stops = nil, nil
}

// Dial dials address.
func (d *rawDialer) Dial(network, address string) (net.Conn, error) {
	d.mu.Lock()
	ctx := d.ctx
	d.mu.Unlock()
	if ctx == nil {
		ctx = context.Background()
	}
	nd := net.Dialer{Timeout: dialTimeout}
	c, err := nd.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
		d.mu.Lock()
		if d.ctx == ctx {
			d.stops = append(d.stops, stop)
		} else {
			stop()
		}
		d.mu.Unlock()
	}
	if tc, ok := c.(*net.TCPConn); ok {
		if rc, err := wire.NewRawTCPConn(tc); err == nil {
			return rc, nil
		}
	}
	return c, nil
}
