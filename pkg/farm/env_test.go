package farm_test

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/workestrator/workestrator/pkg/farm"
)

func workerGetenv(t *testing.T, f *farm.Farm, key string) string {
	t.Helper()
	v, err := farm.Call[string](ctx(t), f, "env", key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// By default a worker inherits the host's whole environment; with
// SkipHostEnv it gets only what HostEnv names, Env, and the farm's own
// variables, and the host's GOMAXPROCS counts only if it is passed.
func TestSkipHostEnv(t *testing.T) {
	t.Setenv("WORKESTRATOR_TEST_SECRET", "s3cret")
	t.Setenv("WORKESTRATOR_TEST_ALLOWED_A", "yes")
	t.Setenv("GOMAXPROCS", "3")
	t.Run("inherited", func(t *testing.T) {
		f := newFarm(t, farm.Config{Workers: 1})
		if got := workerGetenv(t, f, "WORKESTRATOR_TEST_SECRET"); got != "s3cret" {
			t.Errorf("secret = %q; by default the worker inherits the host's environment", got)
		}
		if got := workerGetenv(t, f, "GOMAXPROCS"); got != "3" {
			t.Errorf("GOMAXPROCS = %q, want the host's 3", got)
		}
	})
	t.Run("skipped", func(t *testing.T) {
		f := newFarm(t, farm.Config{Workers: 1, SkipHostEnv: true,
			HostEnv: []string{"WORKESTRATOR_TEST_ALLOWED_*", "PATH"}, Env: []string{"FIXTURE_VALUE=v"}})
		for key, want := range map[string]string{
			"WORKESTRATOR_TEST_SECRET":    "",
			"WORKESTRATOR_TEST_ALLOWED_A": "yes",
			"PATH":                        os.Getenv("PATH"),
			"FIXTURE_VALUE":               "v",
			"GOMAXPROCS":                  "1", // the host's is not passed
		} {
			if got := workerGetenv(t, f, key); got != want {
				t.Errorf("%s = %q, want %q", key, got, want)
			}
		}
		if os.Getenv("HOME") != "" {
			if got := workerGetenv(t, f, "HOME"); got != "" {
				t.Errorf("HOME = %q, not passed", got)
			}
		}
	})
	t.Run("GOMAXPROCS passed", func(t *testing.T) {
		f := newFarm(t, farm.Config{Workers: 1, SkipHostEnv: true, HostEnv: []string{"GOMAXPROCS"}})
		if got := workerGetenv(t, f, "GOMAXPROCS"); got != "3" {
			t.Errorf("GOMAXPROCS = %q, want the host's 3", got)
		}
	})
}

func TestHostEnvValidated(t *testing.T) {
	for _, names := range [][]string{{""}, {"A=B"}, {"A*B"}, {"PATH", "**"}} {
		_, err := farm.New(farm.Config{Path: workerBin, SkipHostEnv: true, HostEnv: names})
		i := len(names) - 1
		if !errors.Is(err, farm.ErrInvalidConfig) || !strings.Contains(err.Error(), "HostEnv["+string(rune('0'+i))+"]") {
			t.Errorf("HostEnv %q: err = %v, want ErrInvalidConfig naming HostEnv[%d]", names, err, i)
		}
	}
}
