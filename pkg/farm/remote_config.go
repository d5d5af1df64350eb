package farm

import (
	"crypto/tls"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"

	"github.com/workestrator/workestrator/internal/remote"
)

// DefaultHeartbeat is the period of the heartbeats between hosts and
// agents; a peer silent for HeartbeatMisses periods is lost.
const (
	DefaultHeartbeat = time.Second
	HeartbeatMisses  = 3
)

// RemoteConfig draws capacity from agents on other machines (`workestrator
// serve`, or [ServeAgent]) over NATS; see the README's "Scale out". Each
// worker of each agent of the pool becomes a slot of the farm, after the
// local ones: calls, broadcasts, events and stats treat it like a local
// worker and name its agent.
type RemoteConfig struct {
	// URL is the NATS server (or servers, comma-separated) to connect to,
	// e.g. "nats://10.0.0.1:4222". Empty (and no Conn): the farm embeds a
	// nats-server listening on Listen.
	URL string
	// Conn is an existing connection to use instead of URL; the farm
	// neither closes nor drains it.
	Conn *nats.Conn
	// Pool names the agents to draw from: those serving the same pool;
	// empty means "default". Letters, digits, '-' and '_'.
	Pool string

	// Token is the NATS authorization token: the embedded server requires
	// it of every client, and the farm's own connection presents it.
	Token string
	// NKeyFile is a file holding the NKey seed the farm's connection
	// signs in with (an alternative to Token).
	NKeyFile string
	// TLS, when set, secures the farm's connection to the server.
	TLS *tls.Config

	// Listen is the embedded server's address, host:port; empty means
	// "127.0.0.1:4222" (loopback: agents on this machine only). An address
	// beyond loopback is refused unless Token or ServerNKeys is set.
	Listen string
	// ServerNKeys are the public NKeys ("U...") the embedded server lets
	// in, instead of a Token; the farm's own connection signs in with a
	// key it makes (or NKeyFile's, when set, whose key must be listed).
	ServerNKeys []string
	// ServerTLS, when set, makes the embedded server require TLS.
	ServerTLS *tls.Config
	// MaxPayload is the embedded server's max payload, from 64 KiB to
	// 64 MiB; 0 means 8 MiB. Bigger messages travel in chunks, up to
	// MaxMessageSize.
	MaxPayload int

	// MinAgents makes New wait, up to StartTimeout, until that many agents
	// have joined: for agents that know the server's address beforehand
	// (URL, or a Listen with a port). With Listen's port 0, the agents
	// learn it from Farm.URL once New returned: wait with Farm.WaitAgents.
	MinAgents int
	// Heartbeat is the period of the farm's heartbeats to its agents and
	// of its check of theirs; 0 means DefaultHeartbeat. An agent whose
	// heartbeats stop for HeartbeatMisses of its own periods is lost: its
	// calls in flight fail with a *WorkerExitError matching ErrAgentLost
	// and go through the retry policy.
	Heartbeat time.Duration
}

// withDefaults validates r and returns a copy with defaults applied.
func (r RemoteConfig) withDefaults() (RemoteConfig, error) {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: Remote.%s = %v: %s", ErrInvalidConfig, field, v, why)
	}
	if r.Pool == "" {
		r.Pool = remote.DefaultPool
	}
	if err := remote.ValidToken(r.Pool); err != nil {
		return r, bad("Pool", fmt.Sprintf("%q", r.Pool), err.Error())
	}
	switch {
	case r.Token != "" && r.NKeyFile != "":
		return r, bad("NKeyFile", r.NKeyFile, "give a Token or an NKeyFile, not both")
	case r.MinAgents < 0:
		return r, bad("MinAgents", r.MinAgents, "must not be negative")
	case r.Heartbeat < 0 || (r.Heartbeat > 0 && r.Heartbeat < 10*time.Millisecond):
		return r, bad("Heartbeat", r.Heartbeat, "must be 0 (1s) or at least 10ms")
	case r.MaxPayload < 0 || (r.MaxPayload > 0 && r.MaxPayload < remote.MinMaxPayload) || r.MaxPayload > 64<<20:
		return r, bad("MaxPayload", r.MaxPayload, "must be 0 (8 MiB), or from 64 KiB to 64 MiB")
	case r.MinAgents > 0 && r.URL == "" && r.Conn == nil && strings.HasSuffix(r.Listen, ":0"):
		return r, bad("MinAgents", r.MinAgents, "New cannot wait for agents that learn the port from Farm.URL once New returned: use Farm.WaitAgents")
	case r.Conn != nil && r.URL != "":
		return r, bad("URL", r.URL, "give a URL or a Conn, not both")
	case (r.URL != "" || r.Conn != nil) && (r.Listen != "" || len(r.ServerNKeys) > 0 || r.ServerTLS != nil):
		return r, bad("Listen", r.Listen, "configures the embedded server, which runs only without URL and Conn")
	}
	if r.URL == "" && r.Conn == nil {
		if r.Token != "" && len(r.ServerNKeys) > 0 {
			return r, bad("ServerNKeys", r.ServerNKeys, "give a Token or ServerNKeys, not both")
		}
		for i, k := range r.ServerNKeys {
			if !nkeys.IsValidPublicUserKey(k) {
				return r, bad(fmt.Sprintf("ServerNKeys[%d]", i), fmt.Sprintf("%q", k), "not a public user NKey (U...)")
			}
		}
		if r.Listen != "" {
			_, port, err := net.SplitHostPort(r.Listen)
			if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
				return r, bad("Listen", fmt.Sprintf("%q", r.Listen), "want host:port, the port 0 to 65535 (0: any free one)")
			}
		}
	}
	if r.URL == "" && r.Conn == nil && r.Token == "" && len(r.ServerNKeys) == 0 && !remote.LoopbackAddr(r.Listen) {
		return r, bad("Listen", fmt.Sprintf("%q", r.Listen), "an embedded server reachable from other machines needs a Token or ServerNKeys")
	}
	if r.Heartbeat == 0 {
		r.Heartbeat = DefaultHeartbeat
	}
	r.ServerNKeys = append([]string(nil), r.ServerNKeys...)
	return r, nil
}
