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
		{[]string{"serve", "--log-level", "loud", "w"}, 1, `--log-level "loud"`},
		{[]string{"serve", "--serializer", "xml", "w"}, 1, `--serializer "xml"`},
		{[]string{"serve", "--max-memory", "lots", "w"}, 2, "byte count"},
		{[]string{"serve", "--heap-floor", "lots", "w"}, 2, "or off"},
		{[]string{"serve", "--heap-reserve", "lots", "w"}, 2, "or off"},
		{[]string{"serve", "--workers", "-1", "w"}, 1, "Workers = -1"},
		{[]string{"serve", "--nats", "nats://127.0.0.1:1", "/nonexistent/worker"}, 1, "/nonexistent/worker"},
		{[]string{"nats", "--listen", "0.0.0.0:0"}, 1, "needs a token or NKeys"},
		{[]string{"nats", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"nats", "--max-payload", "2G"}, 1, "--max-payload 2147483648: must be 0 (8M) or positive, at most 64M"},
		{[]string{"nats", "--max-payload", "4G"}, 1, "--max-payload 4294967296"},
		{[]string{"nats", "--nkeys", "bogus"}, 1, `--nkeys: entry 1, "bogus", is not a public user NKey`},
		{[]string{"nats", "--nkeys", ","}, 1, `--nkeys: entry 1, "", is not`},
		{[]string{"serve", "--heartbeat", "2m", "w"}, 1, "Heartbeat = 2m0s: must be 0 (1s), or from 10ms to 1m0s"},
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
	if code != 1 || !strings.Contains(out, `--log-level "loud"`) {
		t.Errorf("exit %d, stderr:\n%s", code, out)
	}
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
