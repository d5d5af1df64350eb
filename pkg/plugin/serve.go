package plugin

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

	"github.com/workestrator/workestrator/pkg/serializer"
)

// ServeOption configures [Serve].
type ServeOption func(*serveOptions)

type serveOptions struct {
	serializers []serializer.Serializer
	onShutdown  []func()
}

// WithSerializers adds custom serializers to the built-in JSON and CBOR, so
// that a host whose Config names one of them can call this worker.
func WithSerializers(s ...serializer.Serializer) ServeOption {
	return func(o *serveOptions) { o.serializers = append(o.serializers, s...) }
}

// OnShutdown registers a function that runs when the host asks the worker to
// stop (or dies), before the process exits. The host waits for the exit at
// most its KillTimeout, then kills the process.
func OnShutdown(fn func()) ServeOption {
	return func(o *serveOptions) { o.onShutdown = append(o.onShutdown, fn) }
}

var (
	loggerOnce sync.Once
	logger     hclog.Logger
	stderr     io.Writer = os.Stderr // the real stderr, before go-plugin redirects it
)

// Logger returns the worker's logger: JSON lines on the process's stderr,
// which the host re-logs at their level under the worker's name. Its level
// comes from the host (WORKESTRATOR_LOG). It has no name of its own, so
// that the host's ("worker-2") names each line; prefer With to Named, whose
// @module would replace it in a JSON host log. Safe for concurrent use.
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		level := hclog.LevelFromString(os.Getenv(EnvLogLevel))
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

// Serve runs the worker: it checks every function's shape, then serves the
// methods to the host that started this process, and never returns. A bad
// function shape, or a start by hand rather than by a host, prints a message
// naming the problem on stderr and exits with status 1.
//
// A panic in a function becomes an error returned to the caller, with its
// stack; the worker keeps serving. The process exits when the host asks it
// to stop, dies, or sends SIGTERM, after running the [OnShutdown] functions.
func Serve(methods Methods, opts ...ServeOption) {
	closeExeFD()
	var o serveOptions
	for _, opt := range opts {
		opt(&o)
	}
	sers, err := serializer.NewRegistry(o.serializers...)
	if err != nil {
		fail(err)
	}
	maxMessage := 0
	if v := os.Getenv(EnvMaxMessage); v != "" {
		maxMessage, _ = strconv.Atoi(v)
	}
	srv, err := newServer(methods, sers, maxMessage)
	if err != nil {
		fail(err)
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
	if d, err := time.ParseDuration(os.Getenv(EnvKillTimeout)); err == nil && d > 0 {
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
		for _, fn := range o.onShutdown {
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
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{PluginName: &GRPCPlugin{Impl: srv}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			opts = append(opts, GRPCServerOptions(maxMessage)...)
			return grpc.NewServer(opts...)
		},
		Logger: log.With("from", "go-plugin"),
	})
}

// offerDataPlane reports whether the worker should serve its data-plane
// socket: only when a go-plugin host started it (the handshake's cookie is
// set, so go-plugin will not refuse to run and exit with the socket left
// behind) and gave it a private socket directory, which the host removes
// however the worker ends. Otherwise the host uses the gRPC stream.
func offerDataPlane() bool {
	return os.Getenv(EnvDataPlane) != DataPlaneGRPC &&
		os.Getenv(Handshake.MagicCookieKey) == Handshake.MagicCookieValue &&
		os.Getenv(EnvSocketDir) != ""
}

// closeExeFD closes the descriptor of the worker's executable that the host
// passed (EnvExeFD): the process runs, it is of no more use.
func closeExeFD() {
	if fd, err := strconv.Atoi(os.Getenv(EnvExeFD)); err == nil && fd > 2 {
		_ = syscall.Close(fd)
		os.Unsetenv(EnvExeFD)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "workestrator worker: %v\n", err)
	os.Exit(1)
}

// watchLifeline exits the worker when the host's end of the lifeline pipe
// closes: the host stopped the worker or died.
func watchLifeline(log hclog.Logger, stop func()) {
	fd, err := strconv.Atoi(os.Getenv(EnvLifelineFD))
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
