package remote

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats-server/v2/server"
)

// DefaultListen is where an embedded server listens unless told otherwise:
// loopback only.
const DefaultListen = "127.0.0.1:4222"

// DefaultMaxPayload is an embedded server's max payload; bigger messages
// travel in chunks.
const DefaultMaxPayload = 8 << 20

// MinMaxPayload is the smallest max payload of an embedded server: an
// agent's announcement of many workers travels in one message.
const MinMaxPayload = 64 << 10

// ErrNoAuth is the error of a server told to listen beyond loopback without
// authentication.
var ErrNoAuth = errors.New("a NATS server reachable from other machines needs a token or NKeys")

// ServerOptions configure an embedded nats-server.
type ServerOptions struct {
	// Listen is host:port; empty means DefaultListen, port 0 a free port.
	Listen string
	// Token, when set, is required of every client; NKeys, when set, are
	// the public keys of the users allowed in. At most one of the two.
	Token string
	NKeys []string
	// TLS, when set, makes the server require TLS.
	TLS *tls.Config
	// MaxPayload is the server's max payload; 0 means DefaultMaxPayload.
	MaxPayload int32
	// Logger receives the server's logs (debug and trace at debug level).
	Logger hclog.Logger
}

// StartServer starts an embedded nats-server and returns it ready for
// connections. A Listen beyond loopback without Token or NKeys is refused
// with ErrNoAuth.
func StartServer(o ServerOptions) (*server.Server, error) {
	if o.Listen == "" {
		o.Listen = DefaultListen
	}
	host, portText, err := net.SplitHostPort(o.Listen)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", o.Listen, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil || port < 0 || port > 65535 {
		return nil, fmt.Errorf("listen address %q: bad port", o.Listen)
	}
	if o.Token != "" && len(o.NKeys) > 0 {
		return nil, fmt.Errorf("a token and NKeys: give one")
	}
	if !loopback(host) && o.Token == "" && len(o.NKeys) == 0 {
		return nil, fmt.Errorf("listen address %q: %w", o.Listen, ErrNoAuth)
	}
	if o.MaxPayload == 0 {
		o.MaxPayload = DefaultMaxPayload
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName:    "workestrator",
		Host:          host,
		Port:          port,
		NoSigs:        true,
		MaxPayload:    o.MaxPayload,
		MaxPending:    256 << 20,
		WriteDeadline: 10 * time.Second,
		Authorization: o.Token,
		TLSConfig:     o.TLS,
		TLS:           o.TLS != nil,
	}
	for _, k := range o.NKeys {
		opts.Nkeys = append(opts.Nkeys, &server.NkeyUser{Nkey: k})
	}
	s, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("nats server: %w", err)
	}
	if o.Logger == nil {
		o.Logger = hclog.NewNullLogger()
	}
	// The server reports a failed listen as a fatal log line and carries
	// on without a listener: its first fatal line fails the start.
	fatal := make(chan string, 1)
	debug := o.Logger.IsDebug() || o.Logger.IsTrace()
	s.SetLoggerV2(serverLog{o.Logger, fatal}, debug, o.Logger.IsTrace(), false)
	go s.Start()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s.ReadyForConnections(20 * time.Millisecond) {
			return s, nil
		}
		select {
		case why := <-fatal:
			s.Shutdown()
			return nil, fmt.Errorf("nats server on %s: %s", o.Listen, why)
		default:
		}
		if time.Now().After(deadline) {
			s.Shutdown()
			return nil, fmt.Errorf("nats server on %s: not ready within 10s", o.Listen)
		}
	}
}

// LoopbackAddr reports whether a listen address (host:port; empty means
// DefaultListen) is on loopback only.
func LoopbackAddr(listen string) bool {
	if listen == "" {
		return true
	}
	host, _, err := net.SplitHostPort(listen)
	return err == nil && loopback(host)
}

// loopback reports whether host names only this machine's loopback.
func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// serverLog re-logs the server's lines on an hclog logger, and hands the
// first fatal one to fatal.
type serverLog struct {
	l     hclog.Logger
	fatal chan<- string
}

func (s serverLog) Noticef(format string, v ...any) { s.l.Info(fmt.Sprintf(format, v...)) }
func (s serverLog) Warnf(format string, v ...any)   { s.l.Warn(fmt.Sprintf(format, v...)) }
func (s serverLog) Fatalf(format string, v ...any) {
	line := fmt.Sprintf(format, v...)
	s.l.Error(line)
	select {
	case s.fatal <- line:
	default:
	}
}
func (s serverLog) Errorf(format string, v ...any) { s.l.Error(fmt.Sprintf(format, v...)) }
func (s serverLog) Debugf(format string, v ...any) { s.l.Debug(fmt.Sprintf(format, v...)) }
func (s serverLog) Tracef(format string, v ...any) { s.l.Trace(fmt.Sprintf(format, v...)) }
