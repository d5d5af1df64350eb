package farm

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"syscall"
)

// parallelStarts is how many worker starts New runs at once.
func parallelStarts() int { return max(4, 2*runtime.NumCPU()) }

// startAll starts the first worker of every slot, a few at a time, and then
// each slot's supervisor. It stops starting at the first failure: the
// starts already running finish, and their errors are joined. A resource
// error (file descriptors, processes, memory) says which start ran out.
func (f *Farm) startAll() error {
	var (
		mu     sync.Mutex
		errs   []error
		failed bool
		wg     sync.WaitGroup
	)
	sem := make(chan struct{}, parallelStarts())
	f.mu.Lock()
	for _, s := range f.slots {
		if s.elastic() {
			// Parked until calls wait (see scale.go).
			s.parked = true
			f.parkedSlots++
		}
	}
	f.mu.Unlock()
	for _, s := range f.slots {
		if s.elastic() {
			if !f.superviseUnlessKilled(s) {
				break
			}
			continue
		}
		sem <- struct{}{}
		mu.Lock()
		stop := failed
		mu.Unlock()
		if stop || !f.addUnlessKilled() {
			<-sem
			break
		}
		wg.Go(func() {
			defer f.wg.Done() // Kill waits for the starts under way
			defer func() { <-sem }()
			err := s.start()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failed = true
				errs = append(errs, f.explainStartError(s, err))
				return
			}
			if !f.superviseUnlessKilled(s) {
				errs = append(errs, ErrFarmKilled)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// superviseUnlessKilled starts s's supervisor, unless the farm was killed.
func (f *Farm) superviseUnlessKilled(s *slot) bool {
	if !f.addUnlessKilled() {
		return false
	}
	go s.supervise()
	return true
}

// addUnlessKilled adds one to f.wg for work Kill must wait for, unless the
// farm was killed: a Kill, which sets the state under f.mu and then
// waits, sees every addition that it lets through.
func (f *Farm) addUnlessKilled() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.state == farmKilled {
		return false
	}
	f.wg.Add(1)
	return true
}

// explainStartError adds to a resource error of a first start how many
// workers were asked for.
func (f *Farm) explainStartError(s *slot, err error) error {
	if !isResourceError(err) {
		return err
	}
	return fmt.Errorf("%w (starting worker %d of Workers = %d: the machine or the process's limits allow no more; lower Workers or raise the limit)",
		err, s.index+1, len(f.slots))
}

// isResourceError reports whether err says the system ran out of file
// descriptors, processes or memory.
func isResourceError(err error) bool {
	for _, e := range []error{syscall.EMFILE, syscall.ENFILE, syscall.EAGAIN, syscall.ENOMEM} {
		if errors.Is(err, e) {
			return true
		}
	}
	msg := err.Error()
	for _, m := range []string{"too many open files", "resource temporarily unavailable", "cannot allocate memory"} {
		if strings.Contains(msg, m) {
			return true
		}
	}
	return false
}
