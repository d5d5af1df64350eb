package farm_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/testutil/fixturetypes"
	"github.com/workestrator/workestrator/pkg/farm"
	"github.com/workestrator/workestrator/pkg/serializer"
)

func TestPanicBecomesError(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: farm.NoRetries})
	pid, _ := farm.Call[int](ctx(t), f, "pid")
	_, err := f.RunMethod(ctx(t), "panic", "boom")
	var re *farm.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, farm.ErrPanic) {
		t.Fatalf("err = %v, want a RemoteError matching ErrPanic", err)
	}
	if re.Message != "boom" || !strings.Contains(re.Stack, "panic") || re.Method != "panic" {
		t.Fatalf("remote error = %+v", re)
	}
	// The worker keeps serving.
	if again, err := farm.Call[int](ctx(t), f, "pid"); err != nil || again != pid {
		t.Fatalf("after the panic: pid %d (was %d), %v", again, pid, err)
	}
}

func TestPanicIsRetried(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, MaxRetries: 2})
	_, err := f.RunMethod(ctx(t), "panic", "boom")
	var mr *farm.MaxRetriesError
	if !errors.As(err, &mr) || mr.Attempts != 3 || !errors.Is(err, farm.ErrPanic) {
		t.Fatalf("err = %v, want MaxRetriesError after 3 attempts wrapping ErrPanic", err)
	}
	if st := f.Stats(); st.Retried != 2 {
		t.Fatalf("retried = %d", st.Retried)
	}
}

func TestApplicationErrors(t *testing.T) {
	for _, s := range []serializer.Serializer{serializer.JSON, serializer.CBOR} {
		t.Run(s.Name(), func(t *testing.T) {
			f := newFarm(t, farm.Config{Workers: 1, Serializer: s, MaxRetries: farm.NoRetries})
			_, err := f.RunMethod(ctx(t), "fail", "typed")
			var re *farm.RemoteError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v", err)
			}
			if re.Type != "*fixturetypes.Failure" || re.Message != "failure typed" || re.Permanent {
				t.Fatalf("remote error = %+v", re)
			}
			var details fixturetypes.Failure
			if err := re.DecodeDetails(&details); err != nil || details.Code != 42 || details.Reason != "typed" {
				t.Fatalf("details = %+v, %v", details, err)
			}
			_, err = f.RunMethod(ctx(t), "fail", "wrapped")
			if !errors.As(err, &re) || re.Type != "*fmt.wrapError" || !strings.Contains(re.Message, "file does not exist") {
				t.Fatalf("wrapped: %v", err)
			}
			if re.DecodeDetails(&details) == nil {
				t.Fatal("an error without exported fields decoded details")
			}
		})
	}
}

func TestPermanentErrorNotRetried(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	_, err := f.RunMethod(ctx(t), "fail", "permanent")
	var re *farm.RemoteError
	if !errors.As(err, &re) || !re.Permanent || !errors.Is(err, farm.ErrPermanent) {
		t.Fatalf("err = %v", err)
	}
	var mr *farm.MaxRetriesError
	if errors.As(err, &mr) {
		t.Fatalf("a permanent error went through retries: %v", err)
	}
	if st := f.Stats(); st.Retried != 0 {
		t.Fatalf("retried = %d", st.Retried)
	}
	// A plain error is retried: 1 + 3 attempts.
	_, err = f.RunMethod(ctx(t), "fail", "plain")
	if !errors.As(err, &mr) || mr.Attempts != 4 || !errors.As(err, &re) || re.Message != "plain failure" {
		t.Fatalf("plain: %v", err)
	}
}

func TestRetryIf(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1, RetryIf: func(err error) bool { return false }})
	_, err := f.RunMethod(ctx(t), "fail", "plain")
	var mr *farm.MaxRetriesError
	if err == nil || errors.As(err, &mr) || f.Stats().Retried != 0 {
		t.Fatalf("err = %v, retried %d", err, f.Stats().Retried)
	}
}

// RetryIf may call the farm (it runs without the farm's lock), and one
// that panics says no: the call gets its failure, the host lives on.
func TestRetryIfCallsTheFarmOrPanics(t *testing.T) {
	var mr *farm.MaxRetriesError
	t.Run("calls-the-farm", func(t *testing.T) {
		var f *farm.Farm
		f = newFarm(t, farm.Config{Workers: 1, RetryIf: func(err error) bool {
			return f.Stats().Retried < 2
		}})
		_, err := f.RunMethod(ctx(t), "fail", "plain")
		if errors.As(err, &mr) || f.Stats().Retried != 2 {
			t.Fatalf("err = %v, retried %d; want the raw failure after 2 retries", err, f.Stats().Retried)
		}
	})
	t.Run("panics", func(t *testing.T) {
		p := newFarm(t, farm.Config{Workers: 1, RetryIf: func(err error) bool { panic("RetryIf broke") }})
		_, err := p.RunMethod(ctx(t), "fail", "plain")
		var re *farm.RemoteError
		if !errors.As(err, &re) || errors.As(err, &mr) || re.Message != "plain failure" || p.Stats().Retried != 0 {
			t.Fatalf("err = %v, retried %d; want the raw failure, not retried", err, p.Stats().Retried)
		}
		if v, err := farm.Call[int](ctx(t), p, "add", 1, 2, 3); err != nil || v != 6 {
			t.Fatalf("next call: %v, %v", v, err)
		}
	})
}

// A call whose RetryIf is still deciding is settled by Kill.
func TestKillWhileRetryIfDecides(t *testing.T) {
	asked := make(chan struct{})
	release := make(chan struct{})
	f := newFarm(t, farm.Config{Workers: 1, RetryIf: func(err error) bool {
		close(asked)
		<-release
		return true
	}})
	defer close(release)
	fu := f.Go(ctx(t), "fail", "plain")
	<-asked
	if st := f.Stats(); st.Queued != 1 {
		t.Errorf("queued while RetryIf decides: %d, want 1", st.Queued)
	}
	f.Kill()
	if _, err := fu.Result(); !errors.Is(err, farm.ErrFarmKilled) {
		t.Fatalf("err = %v, want ErrFarmKilled", err)
	}
}

func TestRefusalsNotRetried(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	cases := []struct {
		name   string
		method string
		args   []any
		want   error
		text   string
	}{
		{"unknown method", "nope", nil, farm.ErrUnknownMethod, `no method "nope"`},
		{"too few arguments", "add", []any{1, 2}, farm.ErrBadArguments, "takes 3 argument(s), got 2"},
		{"too many arguments", "add", []any{1, 2, 3, 4}, farm.ErrBadArguments, "got 4"},
		{"wrong type", "add", []any{1, "two", 3}, farm.ErrBadArguments, "argument 2"},
		{"unencodable result", "unencodable", nil, farm.ErrBadResult, "chan int"},
	}
	for _, c := range cases {
		_, err := f.RunMethod(ctx(t), c.method, c.args...)
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
			t.Errorf("%s: err = %v, want %v mentioning %q", c.name, err, c.want, c.text)
		}
	}
	if st := f.Stats(); st.Retried != 0 {
		t.Fatalf("refusals were retried %d times", st.Retried)
	}
}

func TestUnencodableArgument(t *testing.T) {
	f := newFarm(t, farm.Config{Workers: 1})
	_, err := f.RunMethod(ctx(t), "echoAny", make(chan int))
	var se *serializer.Error
	if !errors.As(err, &se) || !strings.Contains(err.Error(), "argument 1") {
		t.Fatalf("err = %v, want a serializer.Error naming argument 1", err)
	}
	if st := f.Stats(); st.Submitted != 0 {
		t.Fatalf("an unencodable call was submitted: %+v", st)
	}
}

// A Config.Serializer the started workers do not list in Describe is
// refused by New, not found by every call.
func TestUnknownSerializer(t *testing.T) {
	f, err := farm.New(farm.Config{Path: workerBin, Workers: 2, Serializer: upperJSON{}, Logger: testLogger(t)})
	if err == nil {
		f.Kill()
		t.Fatal("New accepted a serializer the worker does not know")
	}
	if !errors.Is(err, farm.ErrUnknownSerializer) || !errors.Is(err, farm.ErrWorkerStart) ||
		!strings.Contains(err.Error(), `"upper"`) || !strings.Contains(err.Error(), "json") {
		t.Fatalf("err = %v", err)
	}
	testutil.NoChildren(t, 2*time.Second)
}

// upperJSON is a custom serializer the fixture worker does not know.
type upperJSON struct{}

func (upperJSON) Name() string                    { return "upper" }
func (upperJSON) Marshal(v any) ([]byte, error)   { return serializer.JSON.Marshal(v) }
func (upperJSON) Unmarshal(b []byte, v any) error { return serializer.JSON.Unmarshal(b, v) }
