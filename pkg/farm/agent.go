package farm

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/micro"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/wire"
)

// Defaults of an AgentConfig.
const (
	DefaultAgentPrefetch = 1
	DefaultDrainTimeout  = 30 * time.Second
	DefaultConnectWait   = 30 * time.Second
)

// Version is the version of the agent protocol and of the library, as
// agents announce it (and NATS's $SRV discovery shows it).
const Version = "0.12.0"

// AgentConfig configures an agent: a local farm whose workers serve the
// calls of the host farms of a NATS pool (see RemoteConfig). It is what
// `workestrator serve` runs.
type AgentConfig struct {
	// Farm is the agent's local farm: Path, Workers,
	// MaxConcurrentCallsPerWorker, TTL, MaxIdleTime, timeouts, memory
	// limits, Init... MaxRetries is ignored: a failed call goes back to
	// its host, whose retry policy decides, on any capacity. IdleSpin left
	// at 0 is off (IdleSpinOff): calls reach an agent a NATS round trip
	// apart. WorkerHeapFloor applies to the agent's workers. Remote must be
	// nil.
	Farm Config

	// URL is the NATS server (or servers, comma-separated); empty means
	// nats://127.0.0.1:4222. Conn, when set, is used instead.
	URL  string
	Conn *nats.Conn
	// Pool is the pool whose hosts the agent serves; empty means "default".
	Pool string
	// Token, NKeyFile and TLS authenticate the agent's connection (see
	// RemoteConfig).
	Token    string
	NKeyFile string
	TLS      *tls.Config

	// Name is the agent's name in the hosts' events and stats; empty means
	// the machine's host name.
	Name string
	// Prefetch is how many calls per worker a host may send beyond
	// MaxConcurrentCallsPerWorker, queued at the agent so that the network
	// does not leave a worker waiting; 0 means 1, -1 none.
	Prefetch int
	// Heartbeat is the period of the agent's announcements; 0 means
	// DefaultHeartbeat. A host that misses HeartbeatMisses of them loses
	// the agent.
	Heartbeat time.Duration
	// DrainTimeout bounds the drain when ctx ends: the agent takes no new
	// calls and waits that long for those it runs; 0 means 30 s.
	DrainTimeout time.Duration
	// ConnectWait is how long the agent waits at start for a NATS server
	// that does not answer (refused, unroutable, not resolvable yet),
	// trying again every 250 ms to 2 s, its workers up meanwhile; 0 means
	// DefaultConnectWait, negative: one attempt. A server that answers and
	// refuses the agent (authorization, TLS) fails it at once. Once
	// connected, the agent reconnects forever.
	ConnectWait time.Duration
	// OnReady, when set, is called once the agent serves its pool.
	OnReady func()
}

// ServeAgent runs an agent until ctx ends, then drains: it announces that
// it takes no new calls, waits up to DrainTimeout for those it runs,
// says goodbye and stops its workers. It returns nil after a drain (or
// when ctx ends while it waits for its NATS server), or the error that
// stopped it: a bad config, a worker that cannot start, a NATS server that
// refuses it (e.g. "nats: authorization violation") or that did not answer
// within ConnectWait.
func ServeAgent(ctx context.Context, cfg AgentConfig) error {
	a, err := newAgent(cfg)
	if err != nil {
		return err
	}
	return a.serve(ctx)
}

// agent is a running ServeAgent.
type agent struct {
	cfg  AgentConfig
	f    *Farm
	log  hclog.Logger
	nc   *nats.Conn
	own  bool
	subj remote.Subjects
	id   string
	name string
	pub  *remote.Publisher
	svc  micro.Service
	subs []*nats.Subscription
	// calls reassembles chunked batches, batch is the last one decoded,
	// names interns method names, start the calls of a batch to start:
	// used by the calls subscription's goroutine only.
	calls *remote.Assembler
	batch remote.Batch
	names wire.Interner
	start []*relayCall
	fus   []*Future

	session atomic.Uint64

	mu    sync.Mutex
	hosts map[string]*hostState
	// byes holds the hosts that said goodbye, with when: a call message of
	// theirs that comes after it (on another subscription) is dropped.
	byes     map[string]time.Time
	free     []*relayCall // answered, to reuse (see freeRelayCallLocked)
	draining bool
	inflight int
	idle     chan struct{} // gets a token when inflight drops to 0
	wake     chan struct{} // replies are waiting to be sent
	changed  chan struct{} // a worker of the farm came online or exited
	stop     chan struct{}
	wg       sync.WaitGroup
}

func newAgent(cfg AgentConfig) (*agent, error) {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("%w: AgentConfig.%s = %v: %s", ErrInvalidConfig, field, v, why)
	}
	switch {
	case cfg.Farm.Remote != nil:
		return nil, bad("Farm.Remote", "set", "an agent's farm has local workers only")
	case cfg.Farm.Path == "":
		return nil, bad("Farm.Path", `""`, "the worker executable is required")
	case cfg.Farm.MinWorkers != 0 && cfg.Farm.MinWorkers != cfg.Farm.Workers:
		return nil, bad("Farm.MinWorkers", cfg.Farm.MinWorkers, "an agent's workers are a fixed pool: hosts send calls to each of them")
	case cfg.Prefetch < -1 || cfg.Prefetch > maxAgentCapacity:
		return nil, bad("Prefetch", cfg.Prefetch, fmt.Sprintf("must be -1 (none), 0 (1) or positive, at most %d (hosts refuse more)", maxAgentCapacity))
	case cfg.Farm.Workers > maxAgentWorkers:
		return nil, bad("Farm.Workers", cfg.Farm.Workers, fmt.Sprintf("an agent has at most %d workers (hosts refuse more)", maxAgentWorkers))
	case cfg.Farm.MaxConcurrentCallsPerWorker > maxAgentCapacity:
		return nil, bad("Farm.MaxConcurrentCallsPerWorker", cfg.Farm.MaxConcurrentCallsPerWorker, fmt.Sprintf("an agent's workers take at most %d calls each (hosts refuse more)", maxAgentCapacity))
	case len(cfg.Name) > maxAgentName || !utf8.ValidString(cfg.Name):
		return nil, bad("Name", fmt.Sprintf("%q", cfg.Name), fmt.Sprintf("must be valid UTF-8 of at most %d bytes", maxAgentName))
	case cfg.Heartbeat < 0 || (cfg.Heartbeat > 0 && cfg.Heartbeat < 10*time.Millisecond) || cfg.Heartbeat > maxHeartbeat:
		return nil, bad("Heartbeat", cfg.Heartbeat, fmt.Sprintf("must be 0 (1s), or from 10ms to %v (hosts refuse longer ones)", maxHeartbeat))
	case cfg.DrainTimeout < 0:
		return nil, bad("DrainTimeout", cfg.DrainTimeout, "must be 0 (30s) or positive")
	case cfg.Token != "" && cfg.NKeyFile != "":
		return nil, bad("NKeyFile", cfg.NKeyFile, "give a Token or an NKeyFile, not both")
	case cfg.URL != "" && cfg.Conn != nil:
		return nil, bad("URL", cfg.URL, "give a URL or a Conn, not both")
	}
	if cfg.Pool == "" {
		cfg.Pool = remote.DefaultPool
	}
	subj, err := remote.PoolSubjects(cfg.Pool)
	if err != nil {
		return nil, bad("Pool", fmt.Sprintf("%q", cfg.Pool), err.Error())
	}
	switch cfg.Prefetch {
	case 0:
		cfg.Prefetch = DefaultAgentPrefetch
	case -1:
		cfg.Prefetch = 0
	}
	if cfg.Heartbeat == 0 {
		cfg.Heartbeat = DefaultHeartbeat
	}
	if cfg.DrainTimeout == 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	if cfg.ConnectWait == 0 {
		cfg.ConnectWait = DefaultConnectWait
	}
	if cfg.URL == "" {
		cfg.URL = nats.DefaultURL
	}
	if cfg.Name == "" {
		cfg.Name = hostname()
	}
	cfg.Farm.MaxRetries = NoRetries
	if cfg.Farm.IdleSpin == 0 {
		// Calls reach an agent a NATS round trip apart: polling a worker's
		// socket for the next one would spin for nothing.
		cfg.Farm.IdleSpin = IdleSpinOff
	}
	return &agent{
		cfg: cfg, subj: subj, name: cfg.Name, id: newID("a"),
		hosts:   make(map[string]*hostState),
		byes:    make(map[string]time.Time),
		idle:    make(chan struct{}, 1),
		wake:    make(chan struct{}, 1),
		changed: make(chan struct{}, 1),
		stop:    make(chan struct{}),
	}, nil
}

// serve starts the farm, joins the pool and serves until ctx ends.
func (a *agent) serve(ctx context.Context) error {
	user := a.cfg.Farm.OnEvent
	if user == nil {
		// The agent's own listener: no per-call events to time-stamp,
		// queue and hand to its goroutine.
		a.cfg.Farm.eventMask = 1<<EventOnline | 1<<EventExit
	}
	a.cfg.Farm.OnEvent = func(e Event) {
		if e.Type == EventOnline || e.Type == EventExit {
			select {
			case a.changed <- struct{}{}:
			default:
			}
		}
		if user != nil {
			user(e)
		}
	}
	a.cfg.Farm.startCtx = ctx
	f, err := New(a.cfg.Farm)
	if err != nil {
		if errors.Is(err, ErrFarmKilled) && ctx.Err() != nil {
			return nil // stopped while its workers started
		}
		return err
	}
	a.f = f
	a.log = f.log.Named("agent").With("agent", a.name)
	a.calls = remote.NewAssembler(f.cfg.MaxMessageSize + 1<<20)
	a.names = wire.Interner{}
	a.session.Store(1)
	if err := a.connect(ctx); err != nil {
		f.Kill()
		if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			a.log.Info("agent stopped before it reached NATS")
			return nil
		}
		return err
	}
	a.log.Info("agent serving", "pool", a.cfg.Pool, "url", a.nc.ConnectedUrlRedacted(), "workers", f.cfg.Workers)
	if a.cfg.OnReady != nil {
		a.cfg.OnReady()
	}
	select {
	case <-ctx.Done():
	case <-f.killed:
	}
	return a.drain()
}

// connect connects to NATS (waiting up to ConnectWait for a server that
// does not answer, or until ctx ends), subscribes and announces the agent.
func (a *agent) connect(ctx context.Context) error {
	a.nc = a.cfg.Conn
	if a.nc == nil {
		opts, err := remote.Options("workestrator-agent-"+a.name, remote.Auth{Token: a.cfg.Token, NKeyFile: a.cfg.NKeyFile, TLS: a.cfg.TLS}, a.log, remote.Handlers{
			Reconnected: a.reconnected,
		})
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
		if a.nc, err = remote.ConnectWait(ctx, a.cfg.URL, opts, a.cfg.ConnectWait, a.log); err != nil {
			return fmt.Errorf("agent: NATS %s: %w", remote.RedactURLs(a.cfg.URL), err)
		}
		a.own = true
	}
	if err := remote.CheckMaxPayload(a.nc); err != nil {
		err = fmt.Errorf("agent: NATS %s: %w", a.nc.ConnectedUrlRedacted(), err)
		a.closeConn()
		return err
	}
	a.pub = remote.NewPublisher(a.nc, a.id)
	for _, sub := range []struct {
		subject string
		fn      nats.MsgHandler
	}{{a.subj.Agent(a.id), a.onBatch}, {a.subj.Discover, func(*nats.Msg) { a.announce(false) }}, {a.subj.Hosts, a.onHostBeat}} {
		s, err := a.nc.Subscribe(sub.subject, sub.fn)
		if err != nil {
			a.closeConn()
			return fmt.Errorf("agent: NATS subscribe %s: %w", sub.subject, err)
		}
		_ = s.SetPendingLimits(-1, -1)
		a.subs = append(a.subs, s)
	}
	svc, err := micro.AddService(a.nc, micro.Config{
		Name:        "workestrator",
		Version:     Version,
		Description: "Workestrator agent",
		Metadata: map[string]string{
			"pool": a.cfg.Pool, "agent": a.id, "name": a.name,
			"workers": fmt.Sprint(a.f.cfg.Workers), "path": a.f.cfg.Path,
		},
		StatsHandler: func(*micro.Endpoint) any { return a.f.Stats() },
	})
	if err == nil {
		err = svc.AddEndpoint("status", micro.HandlerFunc(func(r micro.Request) { _ = r.RespondJSON(a.f.Stats()) }),
			micro.WithEndpointSubject(a.subj.Agent(a.id)+".status"), micro.WithEndpointQueueGroupDisabled())
	}
	if err != nil {
		a.closeConn()
		return fmt.Errorf("agent: NATS service: %w", err)
	}
	a.svc = svc
	a.wg.Add(2)
	go a.beat()
	go a.sendReplies()
	if !a.own {
		a.wg.Add(1)
		go a.watchConn()
	}
	a.announce(false)
	return nil
}

// reconnected starts a new session: the calls of the old one may have
// lost their answers, and their hosts retry them once they see it.
func (a *agent) reconnected() {
	a.session.Add(1)
	a.dropHosts(func(*hostState) bool { return true }, "the agent's NATS connection dropped")
	a.announce(false)
}

// watchConn follows the state of a connection the caller gave
// (AgentConfig.Conn) as the agent's own handlers do.
func (a *agent) watchConn() {
	defer a.wg.Done()
	ch := a.nc.StatusChanged(nats.RECONNECTING, nats.CONNECTED)
	defer a.nc.RemoveStatusListener(ch)
	down := false
	for {
		select {
		case <-a.stop:
			return
		case st := <-ch:
			if st == nats.CONNECTED && down {
				a.reconnected()
			}
			down = st != nats.CONNECTED
		}
	}
}

// announce publishes the agent's state.
func (a *agent) announce(bye bool) {
	f := a.f
	f.mu.Lock()
	slots := make([]*remotepb.Slot, f.cfg.Workers)
	for i, s := range f.slots[:f.cfg.Workers] {
		slots[i] = &remotepb.Slot{Index: int32(i)}
		if s.cur != nil {
			slots[i].Pid = int64(s.cur.pid)
		}
	}
	f.mu.Unlock()
	a.mu.Lock()
	draining := a.draining
	a.mu.Unlock()
	msg, _ := proto.Marshal(&remotepb.Announce{
		Agent: a.id, Session: a.session.Load(), Name: a.name, Slots: slots,
		PerWorker: uint32(f.cfg.MaxConcurrentCallsPerWorker), Prefetch: uint32(a.cfg.Prefetch),
		HeartbeatNanos: int64(a.cfg.Heartbeat), Draining: draining || bye, Bye: bye,
		RawBytes: f.rawBytes.Load(), Version: Version, MaxMessage: int64(f.cfg.MaxMessageSize),
	})
	if err := a.nc.Publish(a.subj.Agents, msg); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		a.log.Warn("cannot announce", "error", err)
	}
}

// beat announces the agent every Heartbeat and drops the calls of hosts
// that stopped beating.
func (a *agent) beat() {
	defer a.wg.Done()
	t := time.NewTicker(a.cfg.Heartbeat)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-a.changed:
			// A worker came or went: the hosts learn its pid at once.
			a.announce(false)
			continue
		case <-t.C:
		}
		a.announce(false)
		now := time.Now()
		a.silentHosts(now)
	}
}

// drain stops taking calls, waits for those in flight (DrainTimeout at
// most), says goodbye and stops.
func (a *agent) drain() error {
	a.mu.Lock()
	a.draining = true
	busy := a.inflight
	a.mu.Unlock()
	a.announce(false)
	a.log.Info("agent draining", "calls", busy, "timeout", a.cfg.DrainTimeout)
	t := time.NewTimer(a.cfg.DrainTimeout)
	defer t.Stop()
	for busy > 0 {
		select {
		case <-a.idle:
		case <-t.C:
			a.log.Warn("drain timed out; stopping the calls left", "calls", busy)
			busy = 0
			continue
		case <-a.f.killed:
			busy = 0
			continue
		}
		a.mu.Lock()
		busy = a.inflight
		a.mu.Unlock()
	}
	// Calls still running end with ErrFarmKilled, answered as refused: the
	// hosts retry them elsewhere. The reply sender stops first: the last
	// answers go out here, then a bye to each host on its reply subject
	// (after them, in order), then on the agents' subject.
	a.f.Kill()
	close(a.stop)
	a.wg.Wait()
	a.flushReplies(true)
	a.announce(true)
	a.closeConn()
	a.log.Info("agent stopped")
	return nil
}

// closeConn closes what the agent made of its NATS connection.
func (a *agent) closeConn() {
	if a.svc != nil {
		_ = a.svc.Stop()
	}
	for _, s := range a.subs {
		_ = s.Unsubscribe()
	}
	_ = a.nc.FlushTimeout(time.Second)
	if a.own {
		a.nc.Close()
	}
}
