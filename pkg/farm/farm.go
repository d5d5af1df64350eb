package farm

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/workestrator/workestrator/pkg/serializer"
)

type farmState uint8

const (
	farmRunning farmState = iota
	farmDraining
	farmKilled
)

// Farm runs calls in a set of worker processes. Create one with [New]; it
// is safe for concurrent use. After [Farm.Kill] or [Farm.Shutdown], every
// call returns ErrFarmKilled or ErrShutdown at once.
type Farm struct {
	cfg     Config
	log     hclog.Logger
	sockDir socketDir
	ev      *emitter
	mem     *memWatch    // nil without a memory limit
	remote  *remoteHost  // nil without Config.Remote
	launch  launcher     // starts a slot's worker
	hints   *resultHints // the sizes of methods' big []byte results
	// rawBytes: []byte arguments go as they are, not encoded (the
	// built-in serializers decode them back unchanged).
	rawBytes atomic.Bool
	// workerEnv is Config.Env, with GOMAXPROCS=1 first unless the host
	// or Config.Env sets GOMAXPROCS.
	workerEnv []string
	// initArgs are Config.Init's arguments, encoded once.
	initArgs [][]byte
	// reloading holds a token while a Reload runs (Reloads run one at a
	// time).
	reloading chan struct{}

	mu       sync.Mutex
	state    farmState
	queue    prioQueue          // the calls any worker may run, by priority
	isolated deque[*call]       // calls that must run alone, before the queue
	queued   int                // calls waiting: in a queue or a retry backoff
	backoff  map[*call]struct{} // calls waiting out a retry backoff
	active   int                // calls queued or in flight
	waiters  deque[*call]       // calls waiting for room (see admit.go)
	waiting  int                // calls in waiters that still wait
	keyed    int                // calls in the slots' keyed queues, answered ones included
	slots    []*slot
	// parkedSlots counts the elastic slots parked (see scale.go).
	parkedSlots int
	nextCall    uint64
	nextWire    uint64
	nextWID     int
	drained     chan struct{} // closed when draining and active == 0
	st          counters

	// pinnedTo holds, for each broadcast call of a remote slot not yet
	// answered, the agent's worker that must run it.
	pinnedTo map[*call]*worker
	// wakeLater, while set, collects the calls settleLocked answers, to be
	// woken once the lock is released.
	wakeLater *[]*call

	// bin is the farm's worker executable: Config.Path and Checksum, or
	// what the last Reload that finished installed.
	bin binary
	// reloadKill kills the process a Reload is starting; nil if none.
	reloadKill func()

	// epoch is the origin of clock; spares holds the recycled Futures of
	// blocking calls.
	epoch  time.Time
	spares sync.Pool

	killed   chan struct{} // closed when Kill starts
	done     chan struct{} // closed when Kill has finished
	killOnce sync.Once
	wg       sync.WaitGroup // supervisors and worker watchers
}

// clock is the monotonic time in nanoseconds since the farm was made:
// cheaper than time.Now, which reads the wall clock as well.
func (f *Farm) clock() int64 { return int64(time.Since(f.epoch)) }

// New validates cfg, starts cfg.Workers worker processes and returns when
// all are ready for calls. A bad Config value is an error matching
// ErrInvalidConfig that names the field; a worker that cannot start (a
// missing or non-executable binary, a program that is not a worker, a
// worker of another protocol version) is a *StartError, returned within
// StartTimeout, with no process left behind.
func New(cfg Config) (*Farm, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	f := &Farm{
		cfg:     c,
		log:     c.Logger,
		epoch:   time.Now(),
		killed:  make(chan struct{}),
		done:    make(chan struct{}),
		drained: make(chan struct{}),
		backoff: make(map[*call]struct{}),
		bin:     binary{path: c.Path, sum: c.Checksum},

		reloading: make(chan struct{}, 1),
	}
	// Before the socket directory: an Init argument whose encoding fails
	// or panics leaves nothing behind.
	if err := f.encodeInit(); err != nil {
		return nil, err
	}
	removeStaleSocketDirs()
	if f.sockDir, err = makeSocketDir(); err != nil {
		return nil, fmt.Errorf("farm: socket directory: %w", err)
	}
	f.workerEnv = workerEnv(c)
	f.launch = f.launchLocal
	f.rawBytes.Store(c.Serializer == serializer.JSON || c.Serializer == serializer.CBOR)
	f.ev = newEmitter(c.OnEvent, c.eventMask, c.Logger)
	f.mem = newMemWatch(c)
	f.slots = make([]*slot, c.Workers)
	for i := range f.slots {
		f.slots[i] = &slot{f: f, index: i, wake: make(chan struct{}, 1), bin: f.bin}
	}
	// From here on KillAll reaches the farm, even while it starts.
	register(f)
	stopKill := func() bool { return true }
	if c.startCtx != nil {
		stopKill = context.AfterFunc(c.startCtx, f.Kill)
	}
	if err := f.startAll(); err != nil {
		stopKill()
		return nil, f.failNew(err)
	}
	if c.Remote != nil {
		if err := f.startRemoteUnlessKilled(*c.Remote); err != nil {
			stopKill()
			return nil, f.failNew(err)
		}
	}
	if holdHeapReserve(c, f.log) == 0 || c.resultBuffers {
		// As many result buffers at once as the local workers run calls.
		f.hints = newResultHints(int64(min(c.Workers, MaxWorkers)) * int64(min(c.MaxConcurrentCallsPerWorker, 1<<20)))
	}
	f.mu.Lock()
	killed := f.state == farmKilled
	for _, s := range f.slots {
		if w := s.cur; w != nil && !w.rawBytes {
			// Workers without raw bytes (another SDK): encode []byte
			// arguments at submission, not under the lock at dispatch.
			f.rawBytes.Store(false)
		}
	}
	if f.mem != nil && !killed {
		f.wg.Add(1)
		go f.sampleMemory()
	}
	f.mu.Unlock()
	if !stopKill() || killed {
		f.Kill() // waits for a Kill of startCtx's that began
		return nil, ErrFarmKilled
	}
	f.log.Debug("farm started", "workers", c.Workers, "path", c.Path)
	return f, nil
}

// failNew kills the farm New could not start, and returns err, or
// ErrFarmKilled when a Kill (KillAll) cut the start short.
func (f *Farm) failNew(err error) error {
	select {
	case <-f.killed:
		err = ErrFarmKilled
	default:
	}
	f.Kill()
	return err
}

// startRemoteUnlessKilled starts the remote side, unless a Kill came
// first; a Kill that comes meanwhile waits for it (f.wg), then closes it.
func (f *Farm) startRemoteUnlessKilled(rc RemoteConfig) error {
	if !f.addUnlessKilled() {
		return ErrFarmKilled
	}
	defer f.wg.Done()
	return f.startRemote(rc)
}

// Kill stops the farm at once: every queued and in-flight call returns
// ErrFarmKilled, every worker is asked to exit and killed after
// KillTimeout, and no worker process, goroutine or descriptor of it is
// left when Kill returns, within KillTimeout plus a tenth of it and a few
// milliseconds (an event listener still busy then gets the last events
// after Kill returned). Later calls return ErrFarmKilled. A Kill that comes
// while New still connects to NATS (Config.Remote) waits for that dial.
// Kill is idempotent and safe to call concurrently; every call waits for
// the first to finish.
func (f *Farm) Kill() {
	if !f.made() {
		return
	}
	f.killOnce.Do(func() {
		// One budget, KillTimeout, for the workers and the event listener.
		deadline := time.Now().Add(f.cfg.KillTimeout)
		f.mu.Lock()
		f.state = farmKilled
		close(f.killed)
		f.failAllLocked(ErrFarmKilled)
		for _, s := range f.slots {
			for _, w := range s.workers() {
				f.stopWorkerLocked(w)
			}
			s.killStarting()
		}
		if f.reloadKill != nil {
			f.reloadKill()
		}
		f.mu.Unlock()
		f.wg.Wait()
		if f.remote != nil {
			f.remote.close()
		}
		removeSocketDir(f.sockDir)
		unregister(f)
		// The listener gets what is left, and at least a twentieth of
		// KillTimeout for the last events (a stubborn worker takes all
		// of the rest).
		f.ev.close(max(time.Until(deadline), f.cfg.KillTimeout/20))
		f.log.Debug("farm killed")
		close(f.done)
	})
	<-f.done
}

// Shutdown stops the farm gracefully: new calls return ErrShutdown at
// once, queued and in-flight calls run to their end, then the workers
// stop (calls after that return ErrFarmKilled). If ctx ends first,
// Shutdown kills the farm (the remaining calls return ErrFarmKilled) and
// returns ctx's error. Idempotent and safe to
// call concurrently with Kill.
func (f *Farm) Shutdown(ctx context.Context) error {
	if !f.made() {
		return ErrNotStarted
	}
	f.mu.Lock()
	if f.state == farmRunning {
		f.state = farmDraining
		if f.active == 0 {
			close(f.drained)
		}
	}
	f.mu.Unlock()
	select {
	case <-f.drained:
		f.Kill()
		return nil
	case <-f.killed:
		<-f.done
		return nil
	case <-ctx.Done():
		f.Kill()
		return ctx.Err()
	}
}

// failAllLocked settles every queued and in-flight call with err.
func (f *Farm) failAllLocked(err error) {
	for f.isolated.len() > 0 {
		if c := f.isolated.popFront(); c.state != stDone {
			f.settleLocked(c, nil, err)
		}
	}
	for c := f.queue.next(); c != nil; c = f.queue.next() {
		f.settleLocked(f.queue.pop(), nil, err)
	}
	for _, s := range f.slots {
		for s.pinned.len() > 0 {
			if c := s.pinned.popFront(); c.state != stDone {
				f.settleLocked(c, nil, err)
			}
		}
		f.failKeyedLocked(s, err)
		for _, w := range s.workers() {
			for wire, c := range w.inflight {
				if c != nil {
					f.settleLocked(c, nil, err)
				}
				delete(w.inflight, wire)
			}
		}
	}
	// Calls waiting out a retry backoff are in no queue.
	for c := range f.backoff {
		f.settleLocked(c, nil, err)
	}
	f.failWaitersLocked(err)
	f.queued = 0
}

// The process-wide set of live farms, for KillAll.
var (
	farmsMu sync.Mutex
	farms   = map[*Farm]struct{}{}
)

func register(f *Farm) {
	farmsMu.Lock()
	farms[f] = struct{}{}
	farmsMu.Unlock()
}

func unregister(f *Farm) {
	farmsMu.Lock()
	delete(farms, f)
	farmsMu.Unlock()
}

// KillAll kills every farm of the process, concurrently, and returns when
// all are dead; a farm whose New is still starting it is killed too (its
// Kill waits for the starts under way, which it cuts short, and for a
// connection to NATS being made), and that New returns ErrFarmKilled.
func KillAll() {
	farmsMu.Lock()
	all := make([]*Farm, 0, len(farms))
	for f := range farms {
		all = append(all, f)
	}
	farmsMu.Unlock()
	var wg sync.WaitGroup
	for _, f := range all {
		wg.Go(f.Kill)
	}
	wg.Wait()
}
