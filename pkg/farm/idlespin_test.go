package farm_test

import (
	"testing"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// Idle spin on or off, on either side, changes no answer: calls one at a
// time (the host polls), and many in flight (it does not).
func TestIdleSpin(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  farm.Config
	}{
		{"default", farm.Config{}},
		{"off", farm.Config{IdleSpin: farm.IdleSpinOff}},
		{"5ms", farm.Config{IdleSpin: 5 * time.Millisecond}},
		{"host only", farm.Config{Env: []string{"WORKESTRATOR_IDLE_SPIN_US=0"}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := c.cfg
			cfg.Workers = 2
			f := newFarm(t, cfg)
			for i := range 200 {
				if v, err := farm.Call[int](ctx(t), f, "add", i, 1, 0); err != nil || v != i+1 {
					t.Fatalf("add(%d, 1) = %d, %v", i, v, err)
				}
			}
			var fus []*farm.Future
			for i := range 500 {
				fus = append(fus, f.Go(ctx(t), "add", i, 2, 0))
			}
			for i, fu := range fus {
				var v int
				res, err := fu.Result()
				if err == nil {
					err = res.Decode(&v)
				}
				if err != nil || v != i+2 {
					t.Fatalf("add(%d, 2) = %d, %v", i, v, err)
				}
			}
		})
	}
}

// Config.IdleSpin reaches the workers as WORKESTRATOR_IDLE_SPIN_US, in
// whole microseconds (0 for off), unless Env sets it; left at 0 it is not
// passed, and each worker keeps its own default.
func TestIdleSpinEnv(t *testing.T) {
	for _, c := range []struct {
		cfg  farm.Config
		want string
	}{
		{farm.Config{}, ""},
		{farm.Config{IdleSpin: farm.IdleSpinOff}, "0"},
		{farm.Config{IdleSpin: 1500 * time.Nanosecond}, "2"},
		{farm.Config{IdleSpin: 80 * time.Microsecond}, "80"},
		{farm.Config{IdleSpin: 80 * time.Microsecond, Env: []string{"WORKESTRATOR_IDLE_SPIN_US=7"}}, "7"},
	} {
		cfg := c.cfg
		cfg.Workers = 1
		f := newFarm(t, cfg)
		if got := workerGetenv(t, f, "WORKESTRATOR_IDLE_SPIN_US"); got != c.want {
			t.Errorf("IdleSpin %v, Env %q: the worker has WORKESTRATOR_IDLE_SPIN_US=%q, want %q", c.cfg.IdleSpin, c.cfg.Env, got, c.want)
		}
		f.Kill()
	}
}

// A Go worker refuses a window it cannot read, naming the variable.
func TestIdleSpinBadValue(t *testing.T) {
	startFails(t, farm.Config{Path: workerBin, Workers: 1, Env: []string{"WORKESTRATOR_IDLE_SPIN_US=soon"}},
		nil, `WORKESTRATOR_IDLE_SPIN_US="soon"`)
}
