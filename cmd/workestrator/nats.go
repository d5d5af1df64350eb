package main

import (
	"context"
	"fmt"
	"io"
	"strings"

	nkey "github.com/nats-io/nkeys"

	"github.com/workestrator/workestrator/internal/remote"
)

// maxPayloadLimit is the largest --max-payload, as farm.RemoteConfig's
// MaxPayload.
const maxPayloadLimit = 64 << 20

// natsServer runs `workestrator nats`.
func natsServer(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	fs := newFlagSet("nats", "workestrator nats [flags]",
		`Runs a NATS server (nats-server, embedded) for the hosts and agents of a
cluster, until SIGTERM or SIGINT. It listens on loopback unless told otherwise,
and refuses an address reachable from other machines without --token or
--nkeys.`, stderr)
	var (
		o     remote.ServerOptions
		tlsf  tlsFlags
		nkeys string
		max   sizeFlag
		level string
	)
	fs.StringVar(&o.Listen, "listen", remote.DefaultListen, "host:port to listen on (0.0.0.0:4222: every interface, needs --token or --nkeys)")
	fs.StringVar(&o.Token, "token", "", "authorization token every client must present")
	fs.StringVar(&nkeys, "nkeys", "", "public NKeys (U...) of the users allowed in, comma-separated (instead of --token)")
	tlsf.add(fs, "client")
	fs.Var(&max, "max-payload", "the server's max payload, from 64K to 64M, e.g. 8M (0: 8M; bigger messages travel in chunks)")
	fs.StringVar(&level, "log-level", defaultLevel(), "log level: trace, debug, info, warn, error or off (default: $WORKESTRATOR_LOG, else info)")
	src, err := parse(fs, args, stdout)
	if err != nil {
		return err
	}
	defer func() { err = src.explain(err) }()
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "workestrator nats: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		return errUsage
	}
	log, err := newLogger("workestrator-nats", level, stderr)
	if err != nil {
		return err
	}
	if nkeys != "" {
		for i, k := range strings.Split(nkeys, ",") {
			if k = strings.TrimSpace(k); !nkey.IsValidPublicUserKey(k) {
				return fmt.Errorf("--nkeys: entry %d, %q, is not a public user NKey (U...)", i+1, k)
			}
			o.NKeys = append(o.NKeys, k)
		}
	}
	if max < 0 || (max > 0 && max < remote.MinMaxPayload) || max > maxPayloadLimit {
		return fmt.Errorf("--max-payload %d: must be 0 (8M), or from 64K to 64M (bigger messages travel in chunks)", max)
	}
	if o.TLS, err = tlsf.config(true); err != nil {
		return err
	}
	o.MaxPayload = int32(max)
	o.Logger = log
	s, err := remote.StartServer(o)
	if err != nil {
		return err
	}
	log.Info("nats server ready", "url", s.ClientURL())
	<-ctx.Done()
	log.Info("nats server stopping")
	s.Shutdown()
	s.WaitForShutdown()
	return nil
}
