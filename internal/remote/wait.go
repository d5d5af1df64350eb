package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
)

// Unreachable reports whether err, from nats.Connect, says that no server
// answered at all (refused, unroutable, not resolvable, silent): a server
// that may yet come up. A server that answered and refused (authorization,
// TLS, a bad URL) is not unreachable.
func Unreachable(err error) bool {
	if errors.Is(err, nats.ErrNoServers) || errors.Is(err, nats.ErrTimeout) {
		return true
	}
	var addr *net.AddrError
	if errors.As(err, &addr) {
		return false // a port or address that cannot be dialled at all
	}
	var op *net.OpError
	if errors.As(err, &op) {
		return op.Op == "dial"
	}
	var dns *net.DNSError
	return errors.As(err, &dns)
}

// ConnectWait connects to urls (comma-separated) with opts and, while no
// server answers, tries again (every 250 ms at first, then up to every
// 2 s) for up to wait, logging the first failure and then one every 5 s at
// most. It gives up at once on an error that is not Unreachable, and when
// ctx ends (returning ctx's error; an attempt in progress ends with it).
// wait <= 0 tries once.
func ConnectWait(ctx context.Context, urls string, opts []nats.Option, wait time.Duration, log hclog.Logger) (*nats.Conn, error) {
	d := &rawDialer{}
	d.begin(ctx)
	defer d.end()
	opts = append(opts[:len(opts):len(opts)], nats.SetCustomDialer(d))
	start := time.Now()
	pause := 250 * time.Millisecond
	var logged time.Time
	for attempt := 1; ; attempt++ {
		nc, err := nats.Connect(urls, opts...)
		if err == nil {
			if attempt > 1 {
				log.Info("nats server reached", "url", nc.ConnectedUrlRedacted(), "attempts", attempt, "waited", time.Since(start).Round(time.Millisecond))
			}
			return nc, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		left := wait - time.Since(start)
		if !Unreachable(err) || left <= 0 {
			if attempt > 1 {
				return nil, fmt.Errorf("%w (no server answered in %s, %d attempts)", err, time.Since(start).Round(time.Millisecond), attempt)
			}
			return nil, err
		}
		if attempt == 1 || time.Since(logged) >= 5*time.Second {
			log.Warn("nats server not reachable; waiting for it", "url", RedactURLs(urls), "error", err, "left", left.Round(time.Second))
			logged = time.Now()
		}
		t := time.NewTimer(min(pause, left))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}

// RedactURLs returns the comma-separated NATS URLs urls with whatever
// comes between "//" and the last "@" of each (a user and password, or a
// token, which may hold '/', '?' or '#') replaced by "xxxxx", for logs and
// errors.
func RedactURLs(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		start := 0
		if k := strings.Index(p, "//"); k >= 0 {
			start = k + 2
		}
		if at := strings.LastIndex(p, "@"); at >= start {
			parts[i] = p[:start] + "xxxxx" + p[at:]
		}
	}
	return strings.Join(parts, ",")
}
