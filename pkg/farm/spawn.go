package farm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
)

// binary is a worker executable: its absolute path and the SHA-256 it must
// match before every start (nil: none).
type binary struct {
	path string
	sum  []byte
}

// spawn launches a worker of bin for s, checks it (the serializer, and
// that it has every method of need) and runs Config.Init on it. The worker
// it returns is ready but in no slot's place yet, with no watcher; on
// error it returns the worker too (its id and pid, for events) and no
// process is left. While the process starts, *kill holds the function
// that kills it (guarded by the farm's lock).
func (s *slot) spawn(ctx context.Context, bin binary, need []string, kill *func()) (*worker, error) {
	f := s.f
	w := &worker{slot: s, stopReq: make(chan struct{}), inflight: make(map[uint64]*call)}
	var ini *initRun
	f.mu.Lock()
	f.nextWID++
	w.id = f.nextWID
	if f.cfg.Init.Method != "" {
		f.nextWire++
		ini = newInitRun(f.nextWire)
	}
	f.mu.Unlock()
	conn, err := f.launch(ctx, launchSpec{
		slot: s.index,
		bin:  bin,
		onStart: func(pid int, k func()) bool {
			f.mu.Lock()
			defer f.mu.Unlock()
			w.pid = pid
			w.mem.kill = k
			*kill = k
			f.st.started++
			f.emitLocked(Event{Type: EventFork, worker: w})
			return f.state != farmKilled && ctx.Err() == nil
		},
		onResponses: func(rs []wire.Response) {
			if rs = f.takeInit(ini, rs); len(rs) > 0 {
				f.onResponses(w, rs)
			}
		},
	})
	if err == nil {
		err = f.checkWorker(conn.Info(), bin.path, need)
		if err == nil && ini != nil {
			err = f.runInit(ctx, s, conn, ini)
		}
		if err != nil {
			conn.Stop(f.cfg.KillTimeout)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	*kill = nil
	if err != nil {
		return w, err
	}
	w.conn, w.pid = conn, conn.PID()
	w.rawBytes = slices.Contains(conn.Info().Features, wire.FeatureRawBytes)
	w.started = time.Now()
	return w, nil
}

// discard stops a spawned worker that will not be placed, and reports its
// end.
func (f *Farm) discard(w *worker) {
	w.conn.Stop(0)
	status := w.conn.ExitStatus()
	f.mu.Lock()
	f.st.exited++
	f.emitLocked(Event{Type: EventExit, worker: w, Exit: &status})
	f.emitLocked(Event{Type: EventClose, worker: w})
	f.mu.Unlock()
}

// checkWorker refuses a started worker of path that cannot serve the
// farm's calls: one that does not know Config.Serializer, or lacks one of
// the methods need names.
func (f *Farm) checkWorker(info *host.Info, path string, need []string) error {
	name := f.cfg.Serializer.Name()
	if !slices.Contains(info.Serializers, name) {
		known := "none"
		if len(info.Serializers) > 0 {
			known = strings.Join(info.Serializers, ", ")
		}
		return fmt.Errorf("%w: Config.Serializer is %q; the worker %s knows: %s (give the worker plugin.WithSerializers)",
			ErrUnknownSerializer, name, path, known)
	}
	var missing []string
	for _, m := range need {
		if _, ok := info.Methods[m]; !ok {
			missing = append(missing, fmt.Sprintf("%q", m))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: the worker %s lacks %s, which the farm's workers have",
			ErrMissingMethod, path, strings.Join(missing, ", "))
	}
	return nil
}
