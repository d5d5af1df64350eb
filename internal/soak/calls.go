package soak

import (
	"context"
	"time"

	"github.com/workestrator/workestrator/internal/soak/blob"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/pkg/farm"
)

// answer is how a chaos call is answered: a [farm.Future], or a
// blockingCall.
type answer interface {
	Done() <-chan struct{}
	Result() (farm.Result, error)
}

// blockingCall is the answer of a call made with the blocking RunMethod.
type blockingCall struct {
	done chan struct{} // closed when RunMethod has returned
	res  farm.Result
	err  error
}

func (b *blockingCall) Done() <-chan struct{} { return b.done }

func (b *blockingCall) Result() (farm.Result, error) {
	<-b.done
	return b.res, b.err
}

// submit makes the calls, at most InFlight unanswered at a time, starts
// the Reload in the middle, and waits for every answer (until ctx ends).
func (r *run) submit(ctx context.Context) {
	cfg, f := r.cfg, r.f
	r.futures = make([]answer, cfg.Calls)
	begin := time.Now()
	r.reloaded = make(chan error, 1)
	for i, fate := range r.fates {
		if cfg.ReloadAt > 0 && i == cfg.ReloadAt {
			go func() { r.reloaded <- f.Reload(ctx, r.reloadTo) }()
		}
		if r.agents != nil {
			r.agents.tick(ctx, i)
		}
		if w := cfg.InFlight; w > 0 && i >= w {
			select {
			case <-r.futures[i-w].Done():
			case <-ctx.Done():
			}
		}
		cctx, cancel := ctx, context.CancelFunc(nil)
		if fate == "cancel" {
			cctx, cancel = context.WithCancel(ctx)
			r.cancels = append(r.cancels, cancel)
		}
		// A "cancel" call is always a Future: its cancel timer must start
		// once it has entered the farm, which Go has done when it returns.
		method, args := "chaos", []any{i, fate}
		if cfg.BlobEvery > 0 && i%cfg.BlobEvery == 1 {
			k := (i / cfg.BlobEvery) % blob.Kinds
			method, args = "chaosBlob", []any{i, fate, k, r.blobs[k]}
		}
		if cfg.BlockingEvery > 0 && i%cfg.BlockingEvery == 0 && cancel == nil {
			b := &blockingCall{done: make(chan struct{})}
			r.futures[i] = b
			r.blockers.Go(func() {
				b.res, b.err = f.RunMethod(cctx, method, args...)
				close(b.done)
			})
			// Call i must have id i+1 (see journal.go).
			waitEntered(f, uint64(i+1), b.done)
		} else {
			r.futures[i] = f.Go(cctx, method, args...)
		}
		if cancel != nil {
			// Cancelled once submitted: a context that ends before Go is
			// refused at once and never enters the farm.
			r.timers = append(r.timers, time.AfterFunc(time.Duration(1+r.rng.IntN(30))*time.Millisecond, cancel))
		}
	}
	if r.agents != nil {
		r.agents.wait()
	}
	for _, fu := range r.futures {
		select {
		case <-fu.Done():
		case <-ctx.Done():
		}
	}
	r.rep.Wall = time.Since(begin)
	if cfg.ReloadAt > 0 && cfg.ReloadAt < len(r.fates) {
		if err := <-r.reloaded; err != nil {
			r.rep.violate("Reload in the middle of the calls: %v", err)
		}
	}
}

// checkAnswers checks that every call got one answer, the right one for
// its fate, and that the farm's stats agree.
func (r *run) checkAnswers() {
	rep := r.rep
	for i, fu := range r.futures {
		fate := r.fates[i]
		select {
		case <-fu.Done():
		default:
			rep.Counts[fate][outLost]++
			rep.violate("call %d (%s): no answer after %v", i, fate, r.cfg.Deadline)
			continue
		}
		res, err := fu.Result()
		o, why := classify(i, fate, res, err, r.retries, r.cfg.Agents > 0)
		rep.Counts[fate][o]++
		rep.Kinds[errKind(err)]++
		if o == outWrong {
			rep.violate("call %d (%s): %s", i, fate, why)
		}
		// A second read must give the same answer.
		if res2, err2 := fu.Result(); !sameAnswer(res, err, res2, err2) {
			rep.violate("call %d (%s): answer changed: %v then %v", i, fate, err, err2)
		}
	}

	st := r.f.Stats()
	n := uint64(r.cfg.Calls)
	if st.Submitted != n || st.Succeeded+st.Failed != n || st.Queued != 0 || st.InFlight != 0 {
		rep.violate("stats after every answer: submitted %d, succeeded %d + failed %d, queued %d, in flight %d; want %d answered, none left",
			st.Submitted, st.Succeeded, st.Failed, st.Queued, st.InFlight, n)
	}
	if got := uint64(rep.Counts["ok"][outRight] + rep.Counts["grow"][outRight]); st.Succeeded != got {
		rep.violate("stats say %d calls succeeded, the futures %d", st.Succeeded, got)
	}
}

// recovered checks that the farm recovers: every slot gets a worker back,
// and plain calls work (worker starts may be in a crash-loop backoff of up
// to 5 s).
func (r *run) recovered() {
	f, rep := r.f, r.rep
	if !testutil.WaitFor(20*time.Second, func() bool { return online(f) == r.slots() }) {
		rep.violate("%d of %d workers online 20s after the last answer: %+v", online(f), r.slots(), f.Stats().Workers)
	}
	// No worker keeps an abandoned attempt (a timed-out or cancelled one):
	// a local worker answers it or is recycled within KillTimeout, an
	// agent answers it or is lost; a retiring worker with nothing live
	// left stops.
	var held []farm.WorkerStats
	if !testutil.WaitFor(5*time.Second, func() bool {
		held = held[:0]
		for _, w := range f.Stats().Workers {
			if w.Abandoned > 0 || w.InFlight > 0 {
				held = append(held, w)
			}
		}
		return len(held) == 0
	}) {
		rep.violate("workers with calls in flight or abandoned 5s after the last answer: %+v", held)
	}
	var checks []*farm.Future
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := range after {
		checks = append(checks, f.Go(ctx, "chaos", r.cfg.Calls+i, "ok"))
	}
	for i, fu := range checks {
		res, err := fu.Result()
		if o, why := classify(r.cfg.Calls+i, "ok", res, err, r.retries, r.cfg.Agents > 0); o != outRight {
			rep.violate("call after the soak %d: %s", i, why)
		}
	}
}

func online(f *farm.Farm) int {
	n := 0
	for _, w := range f.Stats().Workers {
		if w.State == "online" {
			n++
		}
	}
	return n
}
