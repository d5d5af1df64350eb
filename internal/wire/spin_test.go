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
	keep := SpinAfter(50, func() int64 { return last }, func() bool { return busy })
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
		if got := keep(c.start, c.now); got != c.want {
			t.Errorf("last %d, start %d, now %d, busy %v: keep = %v, want %v", c.last, c.start, c.now, c.busy, got, c.want)
		}
	}
	if !SpinAfter(50, func() int64 { return 0 }, nil)(100, 120) {
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
		b.SetSpin(func(start, now int64) bool {
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
		})
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
	b.SetSpin(func(start, now int64) bool {
		if once.CompareAndSwap(false, true) {
			close(polling)
		}
		return now < start+int64(time.Minute)
	})
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
