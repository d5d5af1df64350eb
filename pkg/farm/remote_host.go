package farm

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nkeys"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/internal/wire"
)

// remoteHost is a farm's side of scale-out: its NATS connection, the
// agents that joined, and the slots their workers hold.
type remoteHost struct {
	f    *Farm
	cfg  RemoteConfig
	nc   *nats.Conn
	own  bool           // the farm made nc and closes it
	srv  *server.Server // the embedded server, if any
	subj remote.Subjects
	id   string
	pub  *remote.Publisher
	subs []*nats.Subscription
	// replies reassembles chunked replies; rbuf and per are the decoded
	// replies, and those of each slot. Used by the replies subscription's
	// goroutine only.
	replies *remote.Assembler
	rbuf    []remote.Reply
	per     [][]wire.Response

	// Guarded by the farm's lock.
	agents map[string]*agentLink // by agent id
	epochs uint64                // the last link's epoch
	free   []*slot               // remote slots without a worker
	joined chan struct{}         // closed (and replaced) on every join
}

// newID returns a random name for a host or an agent session: prefix and
// 12 hex digits.
func newID(prefix string) string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// startRemote connects f to its pool (embedding a server when told to) and
// waits for Remote.MinAgents agents.
func (f *Farm) startRemote(rc RemoteConfig) error {
	subj, err := remote.PoolSubjects(rc.Pool)
	if err != nil {
		return err
	}
	h := &remoteHost{
		f: f, cfg: rc, subj: subj, id: newID("h"),
		replies: remote.NewAssembler(f.cfg.MaxMessageSize + 1<<20),
		agents:  make(map[string]*agentLink),
		joined:  make(chan struct{}),
	}
	f.remote = h
	log := f.log.Named("remote")
	h.nc = rc.Conn
	if h.nc == nil {
		opts, err := remote.Options("workestrator-host-"+h.id, remote.Auth{Token: rc.Token, NKeyFile: rc.NKeyFile, TLS: rc.TLS}, log, remote.Handlers{
			Disconnected: func(err error) { h.connLost(err) },
			Reconnected:  func() { h.discover() },
		})
		if err != nil {
			return fmt.Errorf("%w: Remote: %v", ErrInvalidConfig, err)
		}
		url := rc.URL
		if url == "" {
			keys := rc.ServerNKeys
			if len(keys) > 0 && rc.NKeyFile != "" {
				// The farm's own key is let in too.
				pub, err := seedPublicKey(rc.NKeyFile)
				if err != nil {
					return fmt.Errorf("%w: Remote.NKeyFile: %v", ErrInvalidConfig, err)
				}
				keys = append(keys, pub)
			}
			if len(keys) > 0 && rc.NKeyFile == "" {
				// The farm signs in to its own server with a key of its own.
				kp, err := nkeys.CreateUser()
				if err != nil {
					return fmt.Errorf("farm: NKey: %w", err)
				}
				pub, _ := kp.PublicKey()
				keys = append(keys, pub)
				opts = append(opts, nats.Nkey(pub, kp.Sign))
			}
			h.srv, err = remote.StartServer(remote.ServerOptions{
				Listen: rc.Listen, Token: rc.Token, NKeys: keys, TLS: rc.ServerTLS,
				MaxPayload: int32(rc.MaxPayload), Logger: f.log.Named("nats"),
			})
			if err != nil {
				return fmt.Errorf("farm: embedded NATS server: %w", err)
			}
			url = h.srv.ClientURL()
			opts = append(opts, nats.InProcessServer(h.srv))
		}
		if h.nc, err = nats.Connect(url, opts...); err != nil {
			return fmt.Errorf("farm: NATS %s: %w", remote.RedactURLs(url), err)
		}
		h.own = true
	} else {
		// A connection of the caller's: its handlers are the caller's,
		// its state changes are watched here.
		f.wg.Add(1)
		go h.watchConn()
	}
	if err := remote.CheckMaxPayload(h.nc); err != nil {
		return fmt.Errorf("farm: NATS %s: %w", h.nc.ConnectedUrlRedacted(), err)
	}
	h.pub = remote.NewPublisher(h.nc, h.id)
	for _, sub := range []struct {
		subject string
		fn      nats.MsgHandler
	}{{subj.Host(h.id), h.onReplies}, {subj.Agents, h.onAnnounce}} {
		s, err := h.nc.Subscribe(sub.subject, sub.fn)
		if err != nil {
			return fmt.Errorf("farm: NATS subscribe %s: %w", sub.subject, err)
		}
		// No message is ever dropped for a slow handler: a lost reply
		// would leave its call waiting.
		_ = s.SetPendingLimits(-1, -1)
		h.subs = append(h.subs, s)
	}
	h.discover()
	f.wg.Add(1)
	go h.beat()
	return h.waitAgents()
}

// URL returns the NATS URL agents reach the farm's pool at (the embedded
// server's, or the connection's), or "" for a farm without Remote.
func (f *Farm) URL() string {
	if !f.made() || f.remote == nil {
		return ""
	}
	if f.remote.srv != nil {
		return f.remote.srv.ClientURL()
	}
	return f.remote.nc.ConnectedUrlRedacted()
}

// waitAgents waits up to StartTimeout for Remote.MinAgents agents.
func (h *remoteHost) waitAgents() error {
	if h.cfg.MinAgents == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.f.cfg.StartTimeout)
	defer cancel()
	if err := h.f.WaitAgents(ctx, h.cfg.MinAgents); err != nil {
		return &StartError{Slot: -1, Err: fmt.Errorf("%w (Remote.MinAgents, StartTimeout %v)", err, h.f.cfg.StartTimeout)}
	}
	return nil
}

// WaitAgents waits until at least n agents have joined the farm (each
// with its workers online) and take calls (an agent that drains does not
// count), or ctx ends, or the farm is killed. Its error says how many
// joined.
func (f *Farm) WaitAgents(ctx context.Context, n int) error {
	if !f.made() {
		return ErrNotStarted
	}
	h := f.remote
	if h == nil {
		return fmt.Errorf("%w: WaitAgents needs Config.Remote", ErrInvalidConfig)
	}
	for {
		f.mu.Lock()
		joined, next := 0, h.joined
		for _, l := range h.agents {
			if !l.draining {
				joined++
			}
		}
		f.mu.Unlock()
		if joined >= n {
			return nil
		}
		select {
		case <-next:
		case <-f.killed:
			return ErrFarmKilled
		case <-ctx.Done():
			return fmt.Errorf("%d of %d agents of pool %q joined: %w", joined, n, h.cfg.Pool, ctx.Err())
		}
	}
}

// discover asks every agent of the pool to announce itself.
func (h *remoteHost) discover() {
	b, _ := proto.Marshal(&remotepb.Discover{Host: h.id})
	_ = h.nc.Publish(h.subj.Discover, b)
}

// beat publishes the farm's heartbeat and loses the agents that missed
// theirs, until Kill.
func (h *remoteHost) beat() {
	f := h.f
	defer f.wg.Done()
	t := time.NewTicker(h.cfg.Heartbeat)
	defer t.Stop()
	msg, _ := proto.Marshal(&remotepb.HostBeat{Host: h.id, HeartbeatNanos: int64(h.cfg.Heartbeat)})
	for {
		select {
		case <-f.killed:
			return
		case <-t.C:
		}
		_ = h.nc.Publish(h.subj.Hosts, msg)
		now := time.Now()
		f.mu.Lock()
		for _, l := range h.agents {
			if now.Sub(l.lastSeen) > HeartbeatMisses*l.hb {
				h.loseLocked(l, fmt.Errorf("%w: no heartbeat for %v (3 × %v)", ErrAgentLost, now.Sub(l.lastSeen).Round(time.Millisecond), l.hb))
			}
		}
		f.mu.Unlock()
	}
}

// connLost loses every agent when the farm's own NATS connection drops:
// their answers in flight may be lost with it. They join again once the
// connection is back.
func (h *remoteHost) connLost(err error) {
	f := h.f
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == farmKilled {
		return
	}
	for _, l := range h.agents {
		h.loseLocked(l, fmt.Errorf("%w: the farm's NATS connection dropped: %v", ErrAgentLost, err))
	}
}

// onAnnounce handles an agent's announcement: a join, a heartbeat, a
// drain, a bye.
func (h *remoteHost) onAnnounce(m *nats.Msg) {
	var a remotepb.Announce
	err := proto.Unmarshal(m.Data, &a)
	if err == nil {
		err = checkAnnounce(&a)
	}
	if err != nil {
		h.f.log.Warn("bad agent announcement", "subject", m.Subject, "bytes", len(m.Data), "error", err)
		return
	}
	f := h.f
	var fl flushList
	f.mu.Lock()
	if f.state == farmKilled {
		f.mu.Unlock()
		return
	}
	l := h.agents[a.Agent]
	if l != nil && l.session != a.Session {
		h.loseLocked(l, fmt.Errorf("%w: agent %s started a new session (its NATS connection dropped)", ErrAgentLost, l.name))
		l = nil
	}
	switch {
	case a.Bye:
		// Its last answers come on the farm's reply subject, with a bye
		// of their own: lose it now only if it runs none of our calls.
		if l != nil && !l.busyLocked() {
			h.leaveLocked(l)
		} else if l != nil {
			l.drainLocked()
		}
	case l == nil && !a.Draining && len(a.Slots) > 0:
		h.joinLocked(&a, &fl)
	case l != nil:
		l.lastSeen = time.Now()
		back := false // a slot has a worker again
		for i, sl := range a.Slots {
			if i < len(l.workers) {
				w := l.workers[i]
				back = back || (w.pid == 0 && sl.Pid > 0)
				w.pid = int(sl.Pid)
				w.conn.(*remoteConn).pid.Store(sl.Pid)
			}
		}
		if back {
			f.dispatchLocked(&fl)
		}
		if a.Draining {
			l.drainLocked()
		}
	}
	f.mu.Unlock()
	fl.flush()
}

// Bounds on what an agent may announce.
const (
	maxAgentWorkers  = 1024
	maxAgentCapacity = 1 << 16
	maxHeartbeat     = time.Minute
	maxAgentName     = 256
)

// checkAnnounce refuses an announcement beyond the bounds.
func checkAnnounce(a *remotepb.Announce) error {
	if err := remote.ValidToken(a.Agent); err != nil {
		return fmt.Errorf("agent id %q: %w", a.Agent, err)
	}
	switch {
	case len(a.Slots) > maxAgentWorkers:
		return fmt.Errorf("agent %s announces %d workers (at most %d)", a.Agent, len(a.Slots), maxAgentWorkers)
	case a.PerWorker > maxAgentCapacity || a.Prefetch > maxAgentCapacity:
		return fmt.Errorf("agent %s announces %d calls per worker and %d prefetched (at most %d each)", a.Agent, a.PerWorker, a.Prefetch, maxAgentCapacity)
	case time.Duration(a.HeartbeatNanos) > maxHeartbeat:
		return fmt.Errorf("agent %s announces a heartbeat of %v (at most %v)", a.Agent, time.Duration(a.HeartbeatNanos), maxHeartbeat)
	case len(a.Name) > maxAgentName:
		return fmt.Errorf("agent %s announces a name of %d bytes (at most %d)", a.Agent, len(a.Name), maxAgentName)
	}
	return nil
}

// busyLocked reports whether any of l's workers runs a call.
func (l *agentLink) busyLocked() bool {
	for _, w := range l.workers {
		if w.pending > 0 {
			return true
		}
	}
	return false
}

// drainLocked stops giving l's workers calls; each stops once its calls
// are answered.
func (l *agentLink) drainLocked() {
	if l.draining {
		return
	}
	l.draining = true
	for _, w := range l.workers {
		if w.state == workerOnline {
			w.state = workerRetiring
			// Its broadcast calls not yet started cannot run anywhere else.
			if w.slot.cur == w {
				l.h.f.failPinnedLocked(w.slot, &WorkerExitError{Slot: w.slot.index, Agent: l.name, PID: w.pid, Status: ExitStatus{Code: -1},
					Cause: fmt.Errorf("%w: agent %s is draining", ErrAgentLost, l.name)})
			}
			l.h.f.maybeStopLocked(w)
		}
	}
}

// joinLocked puts the workers of a new agent session into slots.
func (h *remoteHost) joinLocked(a *remotepb.Announce, fl *flushList) {
	f := h.f
	l := &agentLink{
		h: h, id: a.Agent, name: a.Name, session: a.Session,
		subject:    h.subj.Agent(a.Agent),
		hb:         max(time.Duration(a.HeartbeatNanos), 10*time.Millisecond),
		maxMessage: int(a.MaxMessage),
		lastSeen:   time.Now(),
		wake:       make(chan struct{}, 1),
		done:       make(chan struct{}),
	}
	if l.name == "" {
		l.name = a.Agent
	}
	if l.maxMessage <= 0 {
		l.maxMessage = DefaultMaxMessageSize
	}
	if n := h.remoteWorkersLocked() + len(a.Slots); n > MaxWorkers {
		f.log.Warn("agent refused: too many remote workers", "agent", l.name, "workers", len(a.Slots), "total", n, "max", MaxWorkers)
		return
	}
	h.epochs++
	l.epoch = h.epochs
	h.agents[a.Agent] = l
	capacity := int(a.PerWorker) + int(a.Prefetch)
	info := &host.Info{SDK: "agent " + l.name}
	if a.RawBytes {
		info.Features = []string{wire.FeatureRawBytes}
	}
	for i, sl := range a.Slots {
		s := h.slotLocked()
		s.agent = l.name
		f.nextWID++
		w := &worker{
			slot: s, id: f.nextWID, pid: int(sl.Pid), state: workerOnline,
			stopReq: make(chan struct{}), inflight: make(map[uint64]*call),
			started: time.Now(), rawBytes: a.RawBytes,
			agent: l.name, capacity: max(capacity, 1),
		}
		rc := &remoteConn{l: l, w: w, slot: int32(i), done: make(chan struct{}), info: info}
		rc.pid.Store(sl.Pid)
		w.conn = rc
		l.workers = append(l.workers, w)
		s.cur = w
		f.st.started++
		f.emitLocked(Event{Type: EventFork, worker: w})
		f.onlineLocked(w, fl)
	}
	f.log.Info("agent joined", "agent", l.name, "workers", len(a.Slots), "per_worker", a.PerWorker, "prefetch", a.Prefetch)
	f.wg.Add(1)
	go l.send()
	close(h.joined)
	h.joined = make(chan struct{})
}

// remoteWorkersLocked counts the workers of the agents that joined.
func (h *remoteHost) remoteWorkersLocked() int {
	n := 0
	for _, l := range h.agents {
		n += len(l.workers)
	}
	return n
}

// slotLocked returns a free remote slot, or a new one after the others.
func (h *remoteHost) slotLocked() *slot {
	f := h.f
	if n := len(h.free); n > 0 {
		s := h.free[n-1]
		h.free = h.free[:n-1]
		return s
	}
	s := &slot{f: f, index: len(f.slots), wake: make(chan struct{}, 1), bin: f.bin, remote: true}
	f.slots = append(f.slots, s)
	return s
}

// slotFreedLocked takes back a remote slot whose worker is gone.
func (h *remoteHost) slotFreedLocked(s *slot) {
	if s.cur == nil && s.standby == nil && len(s.old) == 0 {
		s.agent = ""
		h.free = append(h.free, s)
	}
}

// leaveLocked ends the session of an agent that said goodbye.
func (h *remoteHost) leaveLocked(l *agentLink) {
	if !l.lost {
		h.f.log.Info("agent left", "agent", l.name)
	}
	h.endLocked(l, fmt.Errorf("%w: agent %s left", ErrAgentLost, l.name))
}

// loseLocked ends an agent session: its workers' connections close with
// err, so their calls go through the retry policy.
func (h *remoteHost) loseLocked(l *agentLink, err error) {
	if !l.lost && h.f.state != farmKilled {
		h.f.log.Warn("agent lost", "agent", l.name, "error", err)
	}
	h.endLocked(l, err)
}

// endLocked ends an agent session with err (see loseLocked).
func (h *remoteHost) endLocked(l *agentLink, err error) {
	if h.agents[l.id] == l {
		delete(h.agents, l.id)
	}
	if l.lost {
		return
	}
	l.lost = true
	l.gone.Store(true)
	for _, w := range l.workers {
		w.conn.(*remoteConn).end(err)
	}
	h.replies.Drop(l.id)
	close(l.done)
}

// onReplies settles the calls an agent answered.
func (h *remoteHost) onReplies(m *nats.Msg) {
	f := h.f
	sender := remote.Sender(m)
	if sender != "" {
		h.alive(sender) // a big message's chunks show its agent is alive
	}
	data, ok, err := h.replies.Add(m)
	if errors.Is(err, remote.ErrOrphanChunk) {
		return
	}
	if err != nil {
		h.badReplies(sender, err)
		return
	}
	if !ok {
		return
	}
	x, rs, err := remote.DecodeReplies(data, h.rbuf[:0])
	h.rbuf = rs
	if err != nil {
		h.badReplies(sender, err)
		return
	}
	f.mu.Lock()
	l := h.agents[x.Agent]
	if l != nil && l.session == x.Session {
		l.lastSeen = time.Now()
	}
	f.mu.Unlock()
	if l == nil || l.session != x.Session {
		return // answers of a session that is over: its calls were retried
	}
	defer func() {
		if x.Bye {
			f.mu.Lock()
			h.leaveLocked(l)
			f.mu.Unlock()
		}
	}()
	// One batch of responses for each slot, in the order they came.
	if cap(h.per) < len(l.workers) {
		h.per = make([][]wire.Response, len(l.workers))
	}
	per := h.per[:len(l.workers)]
	for i := range rs {
		if r := &rs[i]; r.Slot >= 0 && int(r.Slot) < len(per) {
			per[r.Slot] = append(per[r.Slot], l.response(r))
		}
	}
	for slot, batch := range per {
		if w := l.workers[slot]; len(batch) > 0 && !w.conn.(*remoteConn).closed() {
			f.onResponses(w, batch)
		}
		clear(batch)
		per[slot] = batch[:0]
	}
	clear(rs)
}

// alive notes traffic from the agent id.
func (h *remoteHost) alive(id string) {
	h.f.mu.Lock()
	if l := h.agents[id]; l != nil {
		l.lastSeen = time.Now()
	}
	h.f.mu.Unlock()
}

// badReplies drops a reply message that cannot be read: its agent, when
// known, is lost, so that the calls it answered are retried, not left
// waiting.
func (h *remoteHost) badReplies(sender string, err error) {
	f := h.f
	f.log.Warn("bad reply message", "agent", sender, "error", err)
	f.mu.Lock()
	if l := h.agents[sender]; l != nil {
		h.loseLocked(l, fmt.Errorf("%w: agent %s sent an answer that cannot be read: %v", ErrAgentLost, l.name, err))
	}
	f.mu.Unlock()
}

// close says goodbye to the agents (they drop the farm's calls) and
// closes what the farm made; after the workers stopped.
func (h *remoteHost) close() {
	if h.nc != nil {
		bye, _ := proto.Marshal(&remotepb.HostBeat{Host: h.id, Bye: true})
		_ = h.nc.Publish(h.subj.Hosts, bye)
		for _, s := range h.subs {
			_ = s.Unsubscribe()
		}
		_ = h.nc.FlushTimeout(h.f.cfg.KillTimeout)
		if h.own {
			h.nc.Close()
		}
	}
	if h.srv != nil {
		h.srv.Shutdown()
		h.srv.WaitForShutdown()
	}
}

// watchConn follows the state of a connection the caller gave (Remote.Conn)
// as the farm's own handlers do: a drop loses the agents, a reconnection
// asks them to announce themselves.
func (h *remoteHost) watchConn() {
	f := h.f
	defer f.wg.Done()
	ch := h.nc.StatusChanged(nats.DISCONNECTED, nats.RECONNECTING, nats.CONNECTED)
	defer h.nc.RemoveStatusListener(ch)
	for {
		select {
		case <-f.killed:
			return
		case st := <-ch:
			if st == nats.CONNECTED {
				h.discover()
			} else {
				h.connLost(errors.New(st.String()))
			}
		}
	}
}

// seedPublicKey returns the public key of the NKey seed in file.
func seedPublicKey(file string) (string, error) {
	seed, err := os.ReadFile(file)
	if err != nil {
		return "", err
	}
	kp, err := nkeys.FromSeed(bytes.TrimSpace(seed))
	if err != nil {
		return "", fmt.Errorf("%s: %w", file, err)
	}
	return kp.PublicKey()
}

// hostname is the machine's name, for an agent's default name.
func hostname() string {
	n, err := os.Hostname()
	if err != nil || n == "" {
		return "agent"
	}
	return n
}
