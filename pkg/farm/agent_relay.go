package farm

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/nats-io/nats.go"
	"google.golang.org/protobuf/proto"

	"github.com/workestrator/workestrator/internal/remote"
	"github.com/workestrator/workestrator/internal/remote/remotepb"
	"github.com/workestrator/workestrator/pkg/plugin/workerpb"
)

// hostState is what an agent knows of one host: its heartbeat, its calls
// in flight, and the answers waiting to be sent to it.
type hostState struct {
	id         string
	lastSeen   time.Time
	hb         time.Duration
	maxMessage int
	calls      map[uint64]*relayCall
	// out holds the encoded answers waiting to be sent, ready the full
	// messages of them; spare is a sent message's buffer, for the next out.
	out   []byte
	ready [][]byte
	spare []byte
	gone  bool
}

// relayCall is a host's call running on the agent's farm: the call and
// its options, in one allocation.
type relayCall struct {
	fu     Future
	opts   callOpts
	a      *agent
	h      *hostState
	id     uint64
	slot   int32
	epoch  uint64 // of the host's link it came by
	expiry *time.Timer
	// entered: the call is in the farm; until then a cancel is only
	// noted (why) and run applies it.
	entered bool
	why     error
	// dropped: its host gave it up: no answer is sent.
	dropped bool
	// ownTimeout: the attempt's bound is the agent's Timeout, not the
	// host's budget.
	ownTimeout bool
	// held: a cancel list may still refer to it, so it is not reused.
	held bool
	// req is the call as decoded, until run submits it.
	req *remote.Call
}

// cancelLocked returns rc's call to cancel with why, or nil when run will
// (it has not entered the farm yet); under a.mu.
func (rc *relayCall) cancelLocked(why error) *call {
	rc.held = true
	if !rc.entered {
		if rc.why == nil {
			rc.why = why
		}
		return nil
	}
	return &rc.fu.call
}

// cancelList gathers, under a.mu, relayed calls to cancel with why; run
// cancels them once the lock is released.
type cancelList struct {
	why   error
	calls []*call
}

func (l *cancelList) add(rc *relayCall) {
	if c := rc.cancelLocked(l.why); c != nil {
		l.calls = append(l.calls, c)
	}
}

func (l *cancelList) run(f *Farm) {
	for _, c := range l.calls {
		f.cancelWith(c, l.why)
	}
}

// expire ends rc when its budget ran out.
func (a *agent) expire(rc *relayCall) {
	cancel := cancelList{why: errBudget}
	a.mu.Lock()
	cancel.add(rc)
	a.mu.Unlock()
	cancel.run(a.f)
}

func (rc *relayCall) answered(c *call) { rc.a.answered(rc, c) }

// reply queues r for its host; under a.mu.
func (h *hostState) reply(r *remote.Reply) {
	if h.gone {
		return
	}
	if len(h.out) > 0 && len(h.out)+remote.ReplySize(r) > maxBatch {
		h.ready = append(h.ready, h.out)
		h.out = nil
	}
	if h.out == nil {
		h.out, h.spare = h.spare, nil
	}
	h.out = remote.AppendReply(h.out, r)
}

// Errors an agent ends relayed calls with; the answer says which.
var (
	errHostCanceled = errors.New("cancelled by its host")
	errHostSilent   = errors.New("its host's heartbeats stopped")
	errBudget       = errors.New("its budget ran out at the agent")
)

// hostLocked returns the state of host id, made on first sight.
func (a *agent) hostLocked(id string, hb time.Duration) *hostState {
	h := a.hosts[id]
	if h == nil {
		h = &hostState{id: id, calls: make(map[uint64]*relayCall), hb: DefaultHeartbeat}
		a.hosts[id] = h
	}
	if hb > 0 {
		h.hb = hb
	}
	h.lastSeen = time.Now()
	return h
}

// byeMemory is how long an agent remembers a host's goodbye, far longer
// than its messages can lag behind it.
const byeMemory = time.Minute

// onHostBeat notes a host's heartbeat; a host's bye drops its calls.
func (a *agent) onHostBeat(m *nats.Msg) {
	var b remotepb.HostBeat
	if proto.Unmarshal(m.Data, &b) != nil || b.Host == "" {
		return
	}
	if b.Bye {
		a.mu.Lock()
		a.byes[b.Host] = time.Now()
		a.mu.Unlock()
		a.dropHosts(func(h *hostState) bool { return h.id == b.Host }, "the host left")
		return
	}
	a.mu.Lock()
	if h := a.hosts[b.Host]; h != nil {
		h.lastSeen = time.Now()
		h.hb = max(time.Duration(b.HeartbeatNanos), 10*time.Millisecond)
	}
	a.mu.Unlock()
}

// onBatch runs the calls of a host's message and cancels those it names.
func (a *agent) onBatch(m *nats.Msg) {
	if sender := remote.Sender(m); sender != "" {
		// A big message's chunks show its host is alive.
		a.mu.Lock()
		if h := a.hosts[sender]; h != nil {
			h.lastSeen = time.Now()
		}
		a.mu.Unlock()
	}
	data, ok, err := a.calls.Add(m)
	if errors.Is(err, remote.ErrOrphanChunk) {
		return
	}
	if err != nil {
		a.log.Warn("bad call message", "error", err)
		return
	}
	if !ok {
		return
	}
	b := &a.batch
	if err := remote.DecodeBatch(data, b, a.names); err != nil || b.Host == "" {
		a.log.Warn("bad call message", "bytes", len(data), "error", err)
		return
	}
	if b.Lost {
		a.dropEpoch(b.Host, b.Epoch)
		return
	}
	f := a.f
	a.mu.Lock()
	if _, left := a.byes[b.Host]; left {
		// Sent before the host's goodbye, read after it: its host is
		// gone, and so are its calls.
		a.mu.Unlock()
		return
	}
	h := a.hostLocked(b.Host, b.Heartbeat)
	h.maxMessage = int(b.MaxMessage)
	refuse := ""
	switch {
	case a.draining:
		refuse = "it drains"
	case b.Session != a.session.Load():
		refuse = fmt.Sprintf("its session %d is over", b.Session)
	}
	start := a.start[:0]
	queued := refuse != ""
	for i := range b.Calls {
		c := &b.Calls[i]
		switch {
		case refuse != "":
			h.reply(&remote.Reply{ID: c.ID, Slot: c.Slot,
				Failure: &remotepb.Failure{Kind: remotepb.Failure_REFUSED, Message: refuse}})
		case c.Slot < 0 || int(c.Slot) >= f.cfg.Workers:
			queued = true
			h.reply(&remote.Reply{ID: c.ID, Slot: c.Slot,
				Failure: &remotepb.Failure{Kind: remotepb.Failure_OTHER, Message: fmt.Sprintf("agent %s has no slot %d", a.name, c.Slot)}})
		case h.calls[c.ID] != nil:
			// A duplicate: the first one answers.
		default:
			rc := a.newRelayCallLocked()
			*rc = relayCall{a: a, h: h, id: c.ID, slot: c.Slot, epoch: b.Epoch, req: c}
			f.initFuture(&rc.fu, context.Background(), c.Method, f.slots[c.Slot])
			h.calls[c.ID] = rc
			a.inflight++
			start = append(start, rc)
		}
	}
	a.mu.Unlock()
	a.run(start)
	clear(start)
	a.start = start[:0]
	cancel := cancelList{why: errHostCanceled}
	a.mu.Lock()
	for _, id := range b.Cancels {
		if rc := h.calls[id]; rc != nil {
			cancel.add(rc)
		}
	}
	a.mu.Unlock()
	cancel.run(f)
	if queued {
		a.kick() // answered here: refusals
	}
}

// run submits relayed calls to the agent's farm, together, each on the
// slot its host chose and bounded by its budget.
func (a *agent) run(start []*relayCall) {
	f := a.f
	fus := a.fus[:0]
	for _, rc := range start {
		c := rc.req
		rc.req = nil // the batch it points into is reused
		fu := &rc.fu
		// The attempt's bound: its budget, or the agent's own Timeout when
		// shorter (or the only one).
		timeout := c.Budget
		if t := f.cfg.Timeout; t > 0 && (timeout == 0 || t < timeout) {
			timeout = t
		}
		rc.opts = callOpts{timeout: timeout, ser: c.Serializer, notify: rc}
		rc.ownTimeout = timeout != c.Budget
		if d := c.Budget; d > 0 {
			// The budget counts from the call's arrival, queued here too.
			rc.opts.expires = f.clock() + int64(d)
			rc.expiry = time.AfterFunc(d, func() { a.expire(rc) })
		}
		fu.opts = &rc.opts
		if len(c.Args) > maxArgs {
			fu.refuse(fmt.Errorf("method %q: %w: %d arguments (at most %d)", c.Method, ErrTooLarge, len(c.Args), maxArgs))
			continue
		}
		fu.call.args, fu.call.rawArgs = c.Args, c.RawArgs
		fus = append(fus, fu)
	}
	f.enterAll(fus)
	clear(fus)
	a.fus = fus[:0]
	type pending struct {
		c   *call
		why error
	}
	var cancel []pending
	a.mu.Lock()
	for _, rc := range start {
		rc.entered = true
		if rc.why != nil {
			cancel = append(cancel, pending{&rc.fu.call, rc.why})
		}
	}
	a.mu.Unlock()
	for _, p := range cancel {
		f.cancelWith(p.c, p.why)
	}
}

// answered turns the answer of a relayed call into a reply for its host.
func (a *agent) answered(rc *relayCall, c *call) {
	r := &remote.Reply{ID: rc.id, Slot: rc.slot, PID: int64(c.pid)}
	if c.err == nil {
		r.Result, r.RawResult = c.result, c.rawResult
	} else {
		replyError(r, c.err, rc.ownTimeout)
	}
	a.mu.Lock()
	reuse := c.recyclable && !rc.held
	if rc.expiry != nil && !rc.expiry.Stop() {
		reuse = false // expire may still run
	}
	h := rc.h
	if size := replySize(r); h.maxMessage > 0 && size > h.maxMessage-1024 {
		r.Result, r.Failure = nil, nil
		r.Error = &workerpb.Error{Code: workerpb.Error_TOO_LARGE,
			Message: fmt.Sprintf("an answer of %d bytes exceeds the host's MaxMessageSize (%d)", size, h.maxMessage)}
	}
	if h.calls[rc.id] == rc {
		delete(h.calls, rc.id)
		a.inflight--
		if a.inflight == 0 {
			select {
			case a.idle <- struct{}{}:
			default:
			}
		}
		if !rc.dropped {
			h.reply(r)
		}
		if reuse {
			a.freeRelayCallLocked(rc)
		}
	}
	a.mu.Unlock()
	a.kick()
}

// replyError says in r why a relayed call failed with err; ownTimeout is
// whether the attempt's bound was the agent's own Timeout rather than the
// host's budget. (Apart from answered, so that the common answer, without
// an error, allocates no errors.As target.)
func replyError(r *remote.Reply, err error, ownTimeout bool) {
	var re *RemoteError
	var we *WorkerExitError
	switch {
	case errors.As(err, &re):
		r.Error = &workerpb.Error{Code: workerpb.Error_Code(re.Code), Type: re.Type, Message: re.Message,
			Stack: re.Stack, Details: re.Details, Permanent: re.Permanent}
	case errors.As(err, &we):
		r.Failure = &remotepb.Failure{Kind: remotepb.Failure_WORKER_EXIT, Message: err.Error(),
			ExitCode: int32(we.Status.Code), Signal: we.Status.Signal}
		if r.PID == 0 {
			r.PID = int64(we.PID)
		}
	case errors.Is(err, errHostCanceled), errors.Is(err, errHostSilent):
		r.Failure = &remotepb.Failure{Kind: remotepb.Failure_CANCELED, Message: err.Error()}
	case errors.Is(err, errBudget), errors.Is(err, ErrTimeout) && !ownTimeout:
		r.Failure = &remotepb.Failure{Kind: remotepb.Failure_EXPIRED, Message: err.Error()}
	case errors.Is(err, ErrTimeout):
		f := &remotepb.Failure{Kind: remotepb.Failure_TIMEOUT, Message: err.Error()}
		var te *TimeoutError
		if errors.As(err, &te) {
			f.TimeoutNanos = int64(te.Timeout)
			if r.PID == 0 {
				r.PID = int64(te.PID)
			}
		}
		r.Failure = f
	case errors.Is(err, ErrFarmKilled), errors.Is(err, ErrShutdown):
		r.Failure = &remotepb.Failure{Kind: remotepb.Failure_REFUSED, Message: "it stopped"}
	default:
		r.Failure = &remotepb.Failure{Kind: remotepb.Failure_OTHER, Message: err.Error()}
	}
}

// maxSpareReplies is the largest reply buffer a host keeps for its next
// answers.
const maxSpareReplies = 256 << 10

// maxFreeRelayCalls bounds the agent's spare relayCalls.
const maxFreeRelayCalls = 4096

// newRelayCallLocked returns a spare relayCall, or a new one; under a.mu.
// The caller sets all its fields (run may have marked a spare entered
// after it was kept).
func (a *agent) newRelayCallLocked() *relayCall {
	if n := len(a.free); n > 0 {
		rc := a.free[n-1]
		a.free[n-1] = nil
		a.free = a.free[:n-1]
		return rc
	}
	return new(relayCall)
}

// freeRelayCallLocked keeps rc, answered, for a later call: reused memory
// is in the CPU's caches, a new allocation is not; under a.mu. Only the
// calls subscription's goroutine reuses it, in onBatch, once run is done
// with the batch rc came in.
func (a *agent) freeRelayCallLocked(rc *relayCall) {
	if len(a.free) < maxFreeRelayCalls {
		*rc = relayCall{} // keeps no message, result or host alive
		a.free = append(a.free, rc)
	}
}

// replySize bounds the encoded size of r.
func replySize(r *remote.Reply) int {
	n := len(r.Result) + 64
	if e := r.Error; e != nil {
		n += len(e.Type) + len(e.Message) + len(e.Stack) + len(e.Details) + 32
	}
	if f := r.Failure; f != nil {
		n += len(f.Message) + len(f.Signal) + 32
	}
	return n
}

// dropEpoch cancels, unanswered, the calls that came from host by its link
// of epoch, which the host gave up.
func (a *agent) dropEpoch(host string, epoch uint64) {
	cancel := cancelList{why: errHostCanceled}
	a.mu.Lock()
	if h := a.hosts[host]; h != nil {
		for _, rc := range h.calls {
			if rc.epoch == epoch {
				rc.dropped = true
				cancel.add(rc)
			}
		}
	}
	a.mu.Unlock()
	cancel.run(a.f)
}

// dropHosts cancels the calls of the hosts drop selects (a host that left
// or stopped beating, or every host after a reconnection): their answers
// are not sent.
func (a *agent) dropHosts(drop func(*hostState) bool, why string) {
	cancel := cancelList{why: errHostCanceled}
	a.mu.Lock()
	for id, h := range a.hosts {
		if !drop(h) {
			continue
		}
		if len(h.calls) > 0 {
			a.log.Debug("dropping a host's calls", "host", id, "calls", len(h.calls), "why", why)
		}
		h.gone = true
		h.out, h.ready = nil, nil
		for _, rc := range h.calls {
			cancel.add(rc)
		}
		delete(a.hosts, id)
		a.calls.Drop(id)
	}
	a.mu.Unlock()
	cancel.run(a.f)
}

// silentHosts cancels the calls of the hosts whose heartbeats stopped, and
// answers them: a host that hears the agent still (the link is cut one
// way only) retries them. A silent host with nothing left is forgotten.
func (a *agent) silentHosts(now time.Time) {
	cancel := cancelList{why: errHostSilent}
	a.mu.Lock()
	for id, at := range a.byes {
		if now.Sub(at) > byeMemory {
			delete(a.byes, id)
		}
	}
	for id, h := range a.hosts {
		if now.Sub(h.lastSeen) <= HeartbeatMisses*h.hb {
			continue
		}
		if len(h.calls) == 0 && len(h.out) == 0 && len(h.ready) == 0 {
			delete(a.hosts, id)
			a.calls.Drop(id)
			continue
		}
		for _, rc := range h.calls {
			cancel.add(rc)
		}
	}
	a.mu.Unlock()
	cancel.run(a.f)
}

// kick wakes the reply sender.
func (a *agent) kick() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// sendReplies is the agent's reply sender: it publishes the answers
// waiting, many per message.
func (a *agent) sendReplies() {
	defer a.wg.Done()
	for {
		select {
		case <-a.stop:
			return
		case <-a.wake:
		}
		runtime.Gosched() // let more answers join the message
		a.flushReplies(false)
	}
}

// flushReplies publishes the answers waiting for each host, in messages
// of about maxBatch bytes at most (a bigger answer goes alone).
//
// With bye, every host known gets a last message saying the agent leaves,
// after its answers.
func (a *agent) flushReplies(bye bool) {
	type out struct {
		h    *hostState
		host string
		msgs [][]byte
	}
	var outs []out
	a.mu.Lock()
	for id, h := range a.hosts {
		if len(h.out) > 0 || (bye && len(h.ready) == 0) {
			h.ready = append(h.ready, h.out)
			h.out = nil
		}
		if len(h.ready) > 0 {
			outs = append(outs, out{h, id, h.ready})
			h.ready = nil
		}
	}
	a.mu.Unlock()
	session := a.session.Load()
	var lost error
	for k := range outs {
		o := &outs[k]
		for i, msg := range o.msgs {
			msg = remote.AppendRepliesTail(msg, a.id, session, bye && i == len(o.msgs)-1)
			if err := a.pub.Publish(a.subj.Host(o.host), "", msg); err != nil {
				a.log.Warn("cannot send answers", "host", o.host, "bytes", len(msg), "error", err)
				lost = err
			}
			o.msgs[i] = msg // Publish copied it
		}
	}
	if lost != nil && !bye && a.nc.IsConnected() {
		// Answers lost on a live connection: a new session makes the
		// hosts retry the calls of this one, as after a reconnect (which
		// does the same for answers lost while disconnected).
		a.log.Warn("answers lost; starting a new session so that their hosts retry the calls", "error", lost)
		a.reconnected()
	}
	// The last buffer of each host, unless big (an idle host keeps it),
	// holds its next answers.
	a.mu.Lock()
	for _, o := range outs {
		if last := o.msgs[len(o.msgs)-1]; o.h.spare == nil && cap(last) <= maxSpareReplies {
			o.h.spare = last[:0]
		}
	}
	a.mu.Unlock()
}
