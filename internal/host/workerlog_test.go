package host_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/testutil"
	"github.com/workestrator/workestrator/internal/wire"
)

// badlogProc starts the badlog fixture with a text host logger named
// "host" at trace level writing into the returned buffer.
func badlogProc(t *testing.T, env ...string) (*host.Process, <-chan wire.Response, *testutil.SyncBuffer) {
	t.Helper()
	var out testutil.SyncBuffer
	log := hclog.New(&hclog.LoggerOptions{Name: "host", Level: hclog.Trace, Output: &out})
	p, got := startProc(t, host.LaunchConfig{
		Path: testutil.MustBuild(t, "./internal/testutil/fixtures/badlog"), Logger: log, Env: env,
	})
	return p, got, &out
}

// finish has the worker write a last line, waits for it in the host log,
// and stops the worker.
func finish(t *testing.T, p *host.Process, got <-chan wire.Response, out *testutil.SyncBuffer) {
	t.Helper()
	callProc(t, p, got, nil, "done")
	testutil.Eventually(t, 5*time.Second, "the last line", func() bool {
		return strings.Contains(out.String(), "host.worker-0: done")
	})
	p.Stop(time.Second)
}

// JSON lines whose @message, @level or @timestamp are not strings, before
// the handshake and after it, neither crash the host (go-plugin's parser
// panics on them) nor stop the worker; they are logged.
func TestHostileStderrJSON(t *testing.T) {
	p, got, out := badlogProc(t, "FIXTURE_BAD_STDERR=1")
	var n int
	callProc(t, p, got, &n, "badlines")
	finish(t, p, got, out)
	log := out.String()
	for _, want := range []string{
		"[ERROR] host.worker-0: 1\n",
		"[ERROR] host.worker-0: timestamp is a number: timestamp=5",
		"timestamp is garbage: timestamp=yesterday",
		`host.worker-0: {"@level":1,"@message":"level is a number"}`,
	} {
		if c := strings.Count(log, want); c != 2 {
			t.Errorf("%q logged %d times, want 2 (before and after the handshake)\n%s", want, c, log)
		}
	}
}

// hostLine is the start of a line the host logger writes.
var hostLine = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[Z+-]\d{0,4} \[(TRACE|DEBUG|INFO|WARN|ERROR)\] *host[.:]`)

// No message, key, value or module a worker writes (JSON lines, plain
// lines, its logger, its stdout) prints a line of its own in the host's
// log, or a terminal escape.
func TestForgedLogLines(t *testing.T) {
	p, got, out := badlogProc(t)
	callProc(t, p, got, nil, "forge")
	testutil.Eventually(t, 5*time.Second, "the stdout line", func() bool {
		return strings.Contains(out.String(), "forged on stdout")
	})
	finish(t, p, got, out)
	log := out.String()
	if n := strings.Count(log, "forged"); n < 9 {
		t.Fatalf("%d forgery attempts logged, want 9:\n%s", n, log)
	}
	for _, line := range strings.Split(strings.TrimSuffix(log, "\n"), "\n") {
		if !hostLine.MatchString(line) {
			t.Errorf("a line that is not the host logger's: %q", line)
		}
		if strings.HasPrefix(line, "[") || strings.ContainsAny(line, "\r\x1b\x07\u009b") {
			t.Errorf("forged or escaping line: %q", line)
		}
		if strings.Contains(line, "forged") && !strings.Contains(line, "host.worker-0") {
			t.Errorf("a forgery outside the worker's name: %q", line)
		}
	}
}
