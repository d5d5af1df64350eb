package farm_test

import (
	"bufio"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
	"github.com/workestrator/workestrator/pkg/farm"
)

// jsonLines parses the JSON log lines written so far.
func jsonLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		lines = append(lines, m)
	}
	return lines
}

// findLine waits for the JSON log line with that message.
func findLine(t *testing.T, log *testutil.SyncBuffer, msg string) map[string]any {
	t.Helper()
	var found map[string]any
	testutil.Eventually(t, 5*time.Second, "log line "+msg, func() bool {
		for _, l := range jsonLines(t, log.String()) {
			if l["@message"] == msg {
				found = l
				return true
			}
		}
		return false
	})
	return found
}

func TestWorkerLogsReachHostAtTheirLevel(t *testing.T) {
	var log testutil.SyncBuffer
	f := newFarm(t, farm.Config{Workers: 1, Logger: hclog.New(&hclog.LoggerOptions{
		Name: "host", Level: hclog.Trace, Output: &log, JSONFormat: true,
	})})
	pid := workerPIDs(f)[0]
	for _, level := range []string{"debug", "info", "warn", "error"} {
		if _, err := f.RunMethod(ctx(t), "log", level, "worker says "+level); err != nil {
			t.Fatal(err)
		}
	}
	for _, level := range []string{"debug", "info", "warn", "error"} {
		l := findLine(t, &log, "worker says "+level)
		// Named by the worker's slot, at the worker's own level.
		if l["@level"] != level || l["@module"] != "host.worker-0" {
			t.Errorf("line %v: want level %s, module host.worker-0", l, level)
		}
	}
	// The worker's go-plugin lines are named after it too, with its pid.
	f.Kill()
	l := findLine(t, &log, "plugin process exited")
	if l["plugin"] != "worker-0" || l["id"] != strconv.Itoa(pid) {
		t.Errorf("exit line %v, want plugin worker-0 id %d", l, pid)
	}
}

func TestWorkerLogLevelFollowsHost(t *testing.T) {
	for _, level := range []hclog.Level{hclog.Trace, hclog.Debug, hclog.Warn, hclog.Off} {
		t.Run(level.String(), func(t *testing.T) {
			var log testutil.SyncBuffer
			f := newFarm(t, farm.Config{Workers: 1, Logger: hclog.New(&hclog.LoggerOptions{Level: level, Output: &log})})
			got, err := farm.Call[string](ctx(t), f, "env", wire.EnvLogLevel)
			if err != nil || got != level.String() {
				t.Fatalf("worker log level %q, %v; want %q", got, err, level.String())
			}
		})
	}
}

func TestWorkerStdoutReachesHostLog(t *testing.T) {
	var log testutil.SyncBuffer
	f := newFarm(t, farm.Config{Workers: 1, Logger: hclog.New(&hclog.LoggerOptions{
		Name: "host", Level: hclog.Info, Output: &log, JSONFormat: true,
	})})
	// Lines that would break the handshake before the start are harmless
	// after it: they reach the log, and calls go on.
	for _, line := range []string{"hello on stdout", "1|1|unix|/tmp/nowhere|grpc|", "{\"@level\":\"error\"}"} {
		if _, err := f.RunMethod(ctx(t), "print", line); err != nil {
			t.Fatalf("print %q: %v", line, err)
		}
		l := findLine(t, &log, line)
		if l["@level"] != "info" || l["@module"] != "host.worker-0" || l["stream"] != "stdout" {
			t.Errorf("line %v", l)
		}
	}
	if got, err := farm.Call[int](ctx(t), f, "add", 1, 2, 3); err != nil || got != 6 {
		t.Fatalf("add after prints = %d, %v", got, err)
	}
}

// captureStderr points os.Stderr at a file while fn runs (the default
// logger writes to the os.Stderr of New's time) and returns what was
// written.
func captureStderr(t *testing.T, fn func()) string {
	t.Helper()
	file, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	saved := os.Stderr
	os.Stderr = file
	defer func() { os.Stderr = saved }()
	fn()
	b, err := os.ReadFile(file.Name())
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestLogEnvTurnsOnDebug(t *testing.T) {
	t.Setenv(farm.LogEnv, "debug")
	var level string
	out := captureStderr(t, func() {
		f, err := farm.New(farm.Config{Path: workerBin, Workers: 1}) // no Logger: the default
		if err != nil {
			t.Fatal(err)
		}
		defer f.Kill()
		if level, err = farm.Call[string](ctx(t), f, "env", wire.EnvLogLevel); err != nil {
			t.Fatal(err)
		}
		if _, err := f.RunMethod(ctx(t), "log", "debug", "a worker debug line"); err != nil {
			t.Fatal(err)
		}
		f.Kill() // flushes the worker's log lines
	})
	t.Logf("debug run:\n%s", out)
	if level != "debug" {
		t.Errorf("worker log level %q, want debug", level)
	}
	for _, want := range []string{
		"[DEBUG] workestrator: worker online: slot=0 pid=",
		"[DEBUG] workestrator.worker-0: a worker debug line:",
		"[DEBUG] workestrator: farm killed",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("debug output lacks %q", want)
		}
	}
}

func TestLogEnvLevels(t *testing.T) {
	for env, want := range map[string]string{"trace": "trace", "INFO": "info", "off": "off", "": "warn", "bogus": "warn"} {
		t.Run(env, func(t *testing.T) {
			t.Setenv(farm.LogEnv, env)
			var got string
			captureStderr(t, func() {
				f, err := farm.New(farm.Config{Path: workerBin, Workers: 1})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Kill()
				got, err = farm.Call[string](ctx(t), f, "env", wire.EnvLogLevel)
				if err != nil {
					t.Fatal(err)
				}
			})
			if got != want {
				t.Fatalf("%s=%q: worker level %q, want %q", farm.LogEnv, env, got, want)
			}
		})
	}
}

func TestQuietByDefault(t *testing.T) {
	// A normal run with the default logger prints nothing: start, calls,
	// application errors, recycling, graceful and immediate stops.
	t.Setenv(farm.LogEnv, "")
	out := captureStderr(t, func() {
		f, err := farm.New(farm.Config{Path: workerBin, Workers: 2, TTL: 5, MaxIdleTime: 150 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		defer f.Kill()
		for i := range 30 {
			if _, err := f.RunMethod(ctx(t), "add", i, 1, 1); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := f.RunMethod(ctx(t), "fail", "permanent"); err == nil {
			t.Fatal("fail succeeded")
		}
		if _, err := f.RunMethod(ctx(t), "log", "info", "an info line"); err != nil {
			t.Fatal(err)
		}
		testutil.Eventually(t, 5*time.Second, "idle recycling", func() bool { return f.Stats().WorkersRecycled >= 8 })
		if err := f.Shutdown(ctx(t)); err != nil {
			t.Fatal(err)
		}

		g, err := farm.New(farm.Config{Path: workerBin, Workers: 2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := g.RunMethod(ctx(t), "add", 1, 1, 1); err != nil {
			t.Fatal(err)
		}
		g.Kill()
	})
	if out != "" {
		t.Fatalf("a normal run printed:\n%q", out)
	}
	testutil.NoChildren(t, 2*time.Second)
}
