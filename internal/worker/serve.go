package worker

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/serializer"
)

// Options are what plugin.Serve's options set.
type Options struct {
	// Serializers are added to the built-in JSON and CBOR.
	Serializers []serializer.Serializer
	// OnShutdown run, in order, before the process exits.
	OnShutdown []func()
}

var (
	loggerOnce sync.Once
	logger     hclog.Logger
	stderr     io.Writer = os.Stderr // the real stderr, before go-plugin redirects it
)

// Logger returns the worker's logger (see plugin.Logger).
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		level := hclog.LevelFromString(os.Getenv(wire.EnvLogLevel))
		if level == hclog.NoLevel {
			level = hclog.Info
		}
		logger = hclog.New(&hclog.LoggerOptions{
			Level:      level,
			Output:     stderr,
			JSONFormat: true,
		})
	})
	return logger
}

// Serve runs the worker runtime (see plugin.Serve) and never returns.
func Serve(methods Methods, o Options) {
	closeExeFD()
	sers, err := serializer.NewRegistry(o.Serializers...)
	if err != nil {
		fail(err)
	}
	maxMessage := 0
	if v := os.Getenv(wire.EnvMaxMessage); v != "" {
		maxMessage, _ = strconv.Atoi(v)
	}
	srv, err := newServer(methods, sers, maxMessage)
	if err != nil {
		fail(err)
	}
	srv.rawResults = os.Getenv(wire.EnvRawBytes) == "1"
	srv.shmSize, _ = strconv.Atoi(os.Getenv(wire.EnvSharedMemory))
	if srv.idleSpin, err = wire.ParseIdleSpin(os.Getenv(wire.EnvIdleSpin)); err != nil {
		fail(err)
	}
	floor, err := wire.ParseHeapFloor(os.Getenv(wire.EnvHeapFloor))
	if err != nil {
		fail(err)
	}
	if os.Getenv("GOGC") == "" && os.Getenv("GOMEMLIMIT") == "" {
		startHeapFloor(floor)
	}
	log := Logger()
	if offerDataPlane() {
		if d, err := listenDataPlane(); err != nil {
			log.Debug("no data plane socket; the host will use the gRPC stream", "error", err)
		} else {
			srv.dataPlane = d
			go d.serve(srv)
		}
	}
	grace := time.Second
	if d, err := time.ParseDuration(os.Getenv(wire.EnvKillTimeout)); err == nil && d > 0 {
		grace = d
	}
	stop := sync.OnceFunc(func() {
		// The host kills a worker that takes longer than its KillTimeout to
		// stop; a dead host cannot, so the worker bounds its hooks itself.
		time.AfterFunc(grace, func() {
			log.Warn("shutdown hooks still running after the kill timeout; exiting", "timeout", grace)
			os.Exit(1)
		})
		if srv.dataPlane != nil {
			srv.dataPlane.l.Close() // unlinks the socket if the host never came
		}
		// The calls still running learn it from their context; those that
		// heed it get a moment to return before the hooks and the exit.
		srv.stop(min(stopWait, grace/2))
		for _, fn := range o.OnShutdown {
			fn()
		}
		os.Exit(0)
	})
	watchLifeline(log, stop)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sig
		log.Debug("worker stopping on signal", "signal", s.String())
		stop()
	}()
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: wire.Handshake,
		Plugins:         goplugin.PluginSet{wire.PluginName: &wire.GRPCPlugin{Impl: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, wire.GRPCServerOptions(maxMessage)...)
			return grpc.NewServer(opts...)
		},
		Logger: log.With("from", "go-plugin"),
	})
}

// stopWait bounds how long a stopping worker waits for its calls to return
// once their contexts are cancelled.
const stopWait = 100 * time.Millisecond

// offerDataPlane reports whether the worker should serve its data-plane
// socket: only when a go-plugin host started it (the handshake's cookie is
// set, so go-plugin will not refuse to run and exit with the socket left
// behind) and gave it a private socket directory, which the host removes
// however the worker ends. Otherwise the host uses the gRPC stream.
func offerDataPlane() bool {
	return os.Getenv(wire.EnvDataPlane) != wire.DataPlaneGRPC &&
		os.Getenv(wire.Handshake.MagicCookieKey) == wire.Handshake.MagicCookieValue &&
		os.Getenv(wire.EnvSocketDir) != ""
}

// closeExeFD closes the descriptor of the worker's executable that the host
// passed (EnvExeFD): the process runs, it is of no more use.
func closeExeFD() {
	if fd, err := strconv.Atoi(os.Getenv(wire.EnvExeFD)); err == nil && fd > 2 {
		_ = syscall.Close(fd)
		os.Unsetenv(wire.EnvExeFD)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "workestrator worker: %v\n", err)
	os.Exit(1)
}

// watchLifeline exits the worker when the host's end of the lifeline pipe
// closes: the host stopped the worker or died.
func watchLifeline(log hclog.Logger, stop func()) {
	fd, err := strconv.Atoi(os.Getenv(wire.EnvLifelineFD))
	if err != nil || fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "lifeline")
	if f == nil {
		return
	}
	go func() {
		var b [1]byte
		for {
			if _, err := f.Read(b[:]); err != nil {
				log.Debug("host closed the lifeline; worker stopping")
				stop()
				return
			}
		}
	}()
}
