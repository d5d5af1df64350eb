package wire

import (
	"io"
	"sync/atomic"
	"testing"
	"time"
)

func TestParseIdleSpin(t *testing.T) {
	for v, want := range map[string]time.Duration{
		"":        DefaultIdleSpin,
		"0":       0,
		"50":      50 * time.Microsecond,
		"12.5":    12500 * time.Nanosecond,
		"1000000": time.Second,
	} {
		if got, err := ParseIdleSpin(v); err != nil || got != want {
			t.Errorf("ParseIdleSpin(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, v := range []string{"-1", "soon", "NaN", "Inf", "1000001", "50us"} {
		if got, err := ParseIdleSpin(v); err == nil {
			t.Errorf("ParseIdleSpin(%q) = %v; want an error", v, got)
		}
	}
}

// SpinAfter polls for the window after the later of the wait's start
// and the last event, while busy holds.
func TestSpinAfter(t *testing.T) {
	var last int64
	busy := true
	for _, c := range []struct {
		last, start, now int64
		busy             bool
		want             bool
	}{
		{0, 100, 100, true, true},
		{0, 100, 149, true, true},
		{0, 100, 150, true, false},
		{120, 100, 160, true, true}, // the last event is later than the start
		{120, 100, 170, true, false},
		{0, 100, 120, false, false},
	} {
		last, busy = c.last, c.busy
		keep := SpinAfter(50, func() int64 { return last }, func() bool { return busy })
		if got := keep.Keep(c.start, c.now); got != c.want {
			t.Errorf("last %d, start %d, now %d, busy %v: keep = %v, want %v", c.last, c.start, c.now, c.busy, got, c.want)
		}
	}
	if !SpinAfter(50, func() int64 { return 0 }, nil).Keep(100, 120) {
		t.Error("a nil busy stops the poll")
	}
}

// A read that polls gets the bytes written while it polls, asking keep
// with the time it first found the socket empty; one whose keep says stop
// gets them through the poller.
func TestRawConnSpin(t *testing.T) {
	for _, spin := range []bool{true, false} {
		a, b := rawPair(t)
		var asked atomic.Int64
		var start0 int64
		first := make(chan struct{})
		b.SetSpin(keepFunc(func(start, now int64) bool {
			if asked.Add(1) == 1 {
				start0 = start
				close(first)
			} else if start != start0 {
				t.Errorf("keep got start %d, then %d: one wait has one start", start0, start)
			}
			if now < start {
				t.Errorf("keep got now %d before start %d", now, start)
			}
			return spin && now < start+int64(10*time.Second)
		}))
		errc := make(chan error, 1)
		go func() {
			<-first // the read found the socket empty
			_, err := a.Write([]byte("call"))
			errc <- err
		}()
		got := make([]byte, 4)
		if _, err := io.ReadFull(b, got); err != nil || string(got) != "call" {
			t.Fatalf("spin %v: read %q, %v", spin, got, err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		// A wake-up of the poller with nothing to read asks keep again.
		if !spin && asked.Load() > 2 {
			t.Errorf("keep said stop, and was asked %d times; want once", asked.Load())
		}
	}
}

// Closing a RawConn ends a read that polls at once, not when its window
// would end.
func TestRawConnCloseEndsAPoll(t *testing.T) {
	_, b := rawPair(t)
	polling := make(chan struct{})
	var once atomic.Bool
	b.SetSpin(keepFunc(func(start, now int64) bool {
		if once.CompareAndSwap(false, true) {
			close(polling)
		}
		return now < start+int64(time.Minute)
	}))
	errc := make(chan error, 1)
	go func() {
		_, err := b.Read(make([]byte, 10))
		errc <- err
	}()
	<-polling
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close blocked behind a read that polls for a minute")
	}
	wantClosedRead(t, errc)
}

// keepFunc is a Spinner of a Keep function alone.
type keepFunc func(start, now int64) bool

func (f keepFunc) Keep(start, now int64) bool { return f(start, now) }
func (keepFunc) Arrived()                     {}

// A Spin polls while its waits' messages come within the window; after
// spinMisses waits in a row whose message came after it, it polls for one
// wait in spinProbe only, and a probe whose message comes in time turns
// polling on again. A wait that busy excludes counts for nothing.
func TestSpinLearns(t *testing.T) {
	busy := true
	s := SpinAfter(50, func() int64 { return 0 }, func() bool { return busy })
	clock := int64(1000)
	// wait runs one wait whose message comes after d; it reports whether
	// the wait polled at its start.
	wait := func(d int64) bool {
		clock += 1000
		start := clock
		polled := s.Keep(start, start)
		for now := start + 10; polled && now <= start+d && s.Keep(start, now); now += 10 {
		}
		s.Arrived()
		return polled
	}
	for i := range 10 {
		if !wait(20) {
			t.Fatalf("wait %d, its messages in time: did not poll", i)
		}
	}
	for i := range spinMisses {
		if !wait(200) {
			t.Fatalf("late wait %d of %d: did not poll", i+1, spinMisses)
		}
	}
	polls := 0
	for range 2 * spinProbe {
		if wait(200) {
			polls++
		}
	}
	if polls != 2 {
		t.Errorf("after %d late waits, %d of %d late waits polled; want 2 probes", spinMisses, polls, 2*spinProbe)
	}
	// Probes until one is in time, then every wait polls again.
	for i := 0; ; i++ {
		if i > spinProbe {
			t.Fatal("no probe in spinProbe waits")
		}
		if wait(20) {
			break
		}
	}
	for i := range 10 {
		if !wait(200) && i < spinMisses {
			t.Fatalf("after a probe in time, wait %d did not poll", i)
		}
	}
	// A wait busy excludes neither polls nor counts.
	s = SpinAfter(50, func() int64 { return 0 }, func() bool { return busy })
	busy = false
	for range 3 * spinMisses {
		if wait(200) {
			t.Fatal("a wait polled while busy was false")
		}
	}
	busy = true
	if !wait(20) {
		t.Error("waits busy excluded stopped the polls")
	}
	// Nor does it spend a probe: with polling off, excluded waits between
	// the others leave one probe in spinProbe of those.
	for range spinMisses {
		wait(200)
	}
	polls = 0
	for range 2 * spinProbe {
		busy = false
		wait(20)
		busy = true
		if wait(200) {
			polls++
		}
	}
	if polls != 2 {
		t.Errorf("with excluded waits between them, %d of %d late waits polled; want 2 probes", polls, 2*spinProbe)
	}
	// A wait that Keep is asked about again, from a later read with the
	// same start, stays late.
	s = SpinAfter(50, func() int64 { return 0 }, nil)
	if !s.Keep(100, 100) || s.Keep(100, 200) || s.Keep(100, 210) {
		t.Error("a wait past its window polled again")
	}
}

// A wait that could not poll, every poll of the process being taken, does
// not tell its Spinner of its bytes: they teach nothing of polling.
func TestRawConnArrivedNotWhenPollsTaken(t *testing.T) {
	a, b := rawPair(t)
	sp := &countSpin{first: make(chan struct{}, 1)}
	b.SetSpin(sp)
	spinners.Add(1 << 20)
	defer spinners.Add(-1 << 20)
	errc := make(chan error, 1)
	go func() {
		<-sp.first
		_, err := a.Write([]byte("call"))
		errc <- err
	}()
	if _, err := io.ReadFull(b, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	if n := sp.arrived.Load(); n != 0 {
		t.Errorf("Arrived told %d times for a wait that could not poll", n)
	}
}

// A RawConn tells its Spinner once per wait whose bytes came, and not
// for a read that found bytes at once.
func TestRawConnArrived(t *testing.T) {
	a, b := rawPair(t)
	sp := &countSpin{first: make(chan struct{}, 1)}
	b.SetSpin(sp)
	for i := range 3 {
		errc := make(chan error, 1)
		go func() {
			<-sp.first
			_, err := a.Write([]byte("call"))
			errc <- err
		}()
		got := make([]byte, 4)
		if _, err := io.ReadFull(b, got); err != nil {
			t.Fatal(err)
		}
		if err := <-errc; err != nil {
			t.Fatal(err)
		}
		if n := sp.arrived.Load(); n != int64(i+1) {
			t.Fatalf("after %d waits, Arrived told %d times", i+1, n)
		}
	}
	if _, err := a.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	// The bytes are in the socket before the read: no wait.
	if _, err := io.ReadFull(b, make([]byte, 4)); err != nil {
		t.Fatal(err)
	}
	if n := sp.arrived.Load(); n != 3 {
		t.Errorf("a read that waited for nothing told Arrived: %d times in all, want 3", n)
	}
}

// countSpin polls for up to 10 s, signals first on a wait's first Keep,
// and counts Arrived.
type countSpin struct {
	first   chan struct{}
	wait    int64
	arrived atomic.Int64
}

func (s *countSpin) Keep(start, now int64) bool {
	if start != s.wait {
		s.wait = start
		select {
		case s.first <- struct{}{}:
		default:
		}
	}
	return now < start+int64(10*time.Second)
}

func (s *countSpin) Arrived() { s.arrived.Add(1) }
