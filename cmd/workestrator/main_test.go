package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
)

func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestHelpListsEveryFlagAndItsVariable(t *testing.T) {
	for _, cmd := range []string{"serve", "nats"} {
		code, out, _ := runCmd(t, cmd, "--help")
		if code != 0 {
			t.Errorf("%s --help: exit %d", cmd, code)
		}
		for _, want := range []string{"--log-level", "[$WORKESTRATOR_LOG_LEVEL]", "--token", "[$WORKESTRATOR_TOKEN]", "--tls-cert"} {
			if !strings.Contains(out, want) {
				t.Errorf("%s --help lacks %q:\n%s", cmd, want, out)
			}
		}
	}
	_, out, _ := runCmd(t, "help")
	if !strings.Contains(out, "serve") || !strings.Contains(out, "nats") {
		t.Errorf("help:\n%s", out)
	}
	code, out, _ := runCmd(t, "serve", "--help")
	for _, want := range []string{"--nats", "--workers", "--max-per-worker", "--prefetch", "--ttl", "--max-idle", "--timeout",
		"--kill-timeout", "--start-timeout", "--max-memory", "--max-memory-hard", "--drain-timeout", "--heartbeat", "--pool", "--name", "--nkey", "--env", "--checksum", "--idle-spin", "--heap-floor", "--heap-reserve", "--init", "--init-args"} {
		if !strings.Contains(out, want+" ") {
			t.Errorf("serve --help lacks %s (exit %d)", want, code)
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: workestrator COMMAND"},
		{[]string{"bogus"}, 2, `unknown command "bogus"`},
		{[]string{"serve"}, 2, "the WORKER binary is missing"},
		{[]string{"serve", ""}, 1, `the WORKER argument is ""`},
		{[]string{"serve", "--log-level", "loud", "w"}, 1, `--log-level "loud"`},
		{[]string{"serve", "--serializer", "xml", "w"}, 1, `--serializer "xml"`},
		{[]string{"serve", "--max-memory", "lots", "w"}, 2, "byte count"},
		{[]string{"serve", "--heap-floor", "lots", "w"}, 2, "or off"},
		{[]string{"serve", "--heap-reserve", "lots", "w"}, 2, "or off"},
		{[]string{"serve", "--workers", "-1", "w"}, 1, "Workers = -1"},
		{[]string{"serve", "--nats", "nats://127.0.0.1:1", "/nonexistent/worker"}, 1, "/nonexistent/worker"},
		{[]string{"nats", "--listen", "0.0.0.0:0"}, 1, "needs a token or NKeys"},
		{[]string{"nats", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"nats", "--max-payload", "2G"}, 1, "--max-payload 2147483648: must be 0 (8M), or from 64K to 64M"},
		{[]string{"nats", "--max-payload", "4G"}, 1, "--max-payload 4294967296"},
		{[]string{"nats", "--max-payload", "1K"}, 1, "--max-payload 1024: must be 0 (8M), or from 64K"},
		{[]string{"nats", "--nkeys", "bogus"}, 1, `--nkeys: entry 1, "bogus", is not a public user NKey`},
		{[]string{"nats", "--nkeys", ","}, 1, `--nkeys: entry 1, "", is not`},
		{[]string{"serve", "--heartbeat", "2m", "w"}, 1, "Heartbeat = 2m0s: must be 0 (1s), or from 10ms to 1m0s"},
		{[]string{"serve", "--max-per-worker", "70000", "w"}, 1, "MaxConcurrentCallsPerWorker = 70000: an agent's workers take at most 65536"},
		{[]string{"serve", "--prefetch", "70000", "w"}, 1, "Prefetch = 70000"},
		{[]string{"serve", "--workers", "2000", "w"}, 1, "Workers = 2000: an agent has at most 1024 workers"},
		{[]string{"serve", "--name", strings.Repeat("n", 300), "w"}, 1, "Name = \"nnn"},
		{[]string{"serve", "--name", "bad\xffname", "w"}, 1, "must be valid UTF-8"},
		{[]string{"serve", "--connect-wait", "-5s", "w"}, 1, "--connect-wait -5s: must be 0 (one attempt) or positive"},
	} {
		code, _, out := runCmd(t, c.args...)
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("%v: exit %d, want %d with %q; stderr:\n%s", c.args, code, c.code, c.want, out)
		}
	}
}

func TestEnvironmentFallback(t *testing.T) {
	t.Setenv("WORKESTRATOR_LOG_LEVEL", "loud")
	code, _, out := runCmd(t, "serve", "w")
	if code != 1 || !strings.Contains(out, `$WORKESTRATOR_LOG_LEVEL: --log-level "loud"`) {
		t.Errorf("exit %d, stderr:\n%s", code, out)
	}
	t.Setenv("WORKESTRATOR_CONNECT_WAIT", "-5s")
	code, _, out = runCmd(t, "serve", "--log-level", "warn", "w")
	if code != 1 || !strings.Contains(out, "$WORKESTRATOR_CONNECT_WAIT: --connect-wait -5s") {
		t.Errorf("a bad connect wait from the environment: exit %d, stderr:\n%s", code, out)
	}
	code, _, out = runCmd(t, "serve", "--log-level", "warn", "--connect-wait", "-1s", "w")
	if code != 1 || strings.Contains(out, "$WORKESTRATOR") || !strings.Contains(out, "--connect-wait -1s") {
		t.Errorf("a bad connect wait on the command line: exit %d, stderr:\n%s", code, out)
	}
	t.Setenv("WORKESTRATOR_LOG_LEVEL", "") // empty: unset
	t.Setenv("WORKESTRATOR_LOG", "loud")
	code, _, out = runCmd(t, "nats")
	if code != 1 || !strings.Contains(out, `$WORKESTRATOR_LOG: --log-level "loud"`) {
		t.Errorf("a bad WORKESTRATOR_LOG: exit %d, stderr:\n%s", code, out)
	}
	t.Setenv("WORKESTRATOR_LOG", "")
	t.Setenv("WORKESTRATOR_CONNECT_WAIT", "")
	t.Setenv("WORKESTRATOR_WORKERS", "many")
	code, _, out = runCmd(t, "serve", "w")
	if code != 1 || !strings.Contains(out, "$WORKESTRATOR_WORKERS") {
		t.Errorf("a bad variable: exit %d, stderr:\n%s", code, out)
	}
	// The command line wins over the environment.
	code, _, out = runCmd(t, "serve", "--workers", "-1", "--log-level", "warn", "w")
	if code != 1 || !strings.Contains(out, "Workers = -1") {
		t.Errorf("exit %d, stderr:\n%s", code, out)
	}
}

func TestInitArgs(t *testing.T) {
	args, err := parseInitArgs(`["model.bin", 4, 0.5, {"n": 2, "l": [1, 2.5]}, null]`)
	if err != nil {
		t.Fatal(err)
	}
	want := `[model.bin 4 0.5 map[l:[1 2.5] n:2] <nil>]`
	if got := fmt.Sprint(args); got != want {
		t.Fatalf("args = %s, want %s", got, want)
	}
	if n, ok := args[1].(int64); !ok || n != 4 {
		t.Fatalf("a whole number is %T %v, want int64 4", args[1], args[1])
	}
	for _, bad := range []string{`{"a": 1}`, `[1] [2]`, `[1,`} {
		if _, err := parseInitArgs(bad); err == nil || !strings.Contains(err.Error(), "--init-args") {
			t.Errorf("%s: err = %v", bad, err)
		}
	}
	if code, _, out := runCmd(t, "serve", "--init-args", "[1]", "w"); code != 1 || !strings.Contains(out, "Init.Args need a method") {
		t.Errorf("--init-args without --init: exit %d, stderr:\n%s", code, out)
	}
}

// Only the command's own flags ask for help: a -h of the worker's, or a
// flag's value, does not.
func TestAsksHelp(t *testing.T) {
	fs := newFlagSet("serve", "", "", nil)
	fs.String("name", "", "")
	fs.Bool("skip-host-env", false, "")
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"--help"}, true},
		{[]string{"-h"}, true},
		{[]string{"--skip-host-env", "-help", "w"}, true},
		{[]string{"--name=x", "--help"}, true},
		{[]string{"w", "--help"}, false},
		{[]string{"--name", "-h", "w"}, false},
		{[]string{"--", "-h"}, false},
		{[]string{"--bogus", "-h"}, false},
		{[]string{"--bogus=1", "--help"}, false},
		{nil, false},
	} {
		if got := asksHelp(fs, c.args); got != c.want {
			t.Errorf("asksHelp(%q) = %v, want %v", c.args, got, c.want)
		}
	}
	code, out, errOut := runCmd(t, "serve", "--connect-wait", "0", "/nonexistent/worker", "--help")
	if code != 1 || out != "" || !strings.Contains(errOut, "/nonexistent/worker") {
		t.Errorf("a worker's --help: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "serve", "--bogus", "-h")
	if code != 2 || out != "" || !strings.Contains(errOut, "bogus") {
		t.Errorf("serve --bogus -h: exit %d, stdout %q, stderr:\n%s", code, out, errOut)
	}
}

// A repeatable flag's variable holds one value a line.
func TestListFlagFromEnvironment(t *testing.T) {
	t.Setenv("WORKESTRATOR_ENV", "A=1,2\nB=3\n")
	fs := newFlagSet("serve", "", "", nil)
	var env listFlag
	fs.Var(&env, "env", "")
	if _, err := parse(fs, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint([]string(env)); got != "[A=1,2 B=3]" {
		t.Errorf("env = %s, want [A=1,2 B=3]", got)
	}
}
