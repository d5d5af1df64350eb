package host

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain text, é ü 日本":  "plain text, é ü 日本",
		"a\nb\rc\td":          `a\nb\rc\td`,
		"\x1b[31mred\x1b[0m":  `\x1b[31mred\x1b[0m`,
		"nul\x00 del\x7f":     `nul\x00 del\x7f`,
		"c1 \u0085 \u009b":    `c1 \u0085 \u009b`,
		"ls \u2028 ps \u2029": `ls \u2028 ps \u2029`,
		"bidi \u202e \u2066":  `bidi \u202e \u2066`,
		"bad \xff\xfe utf8":   `bad \xff\xfe utf8`,
		"":                    "",
	} {
		if got := escape(in); got != want {
			t.Errorf("escape(%q) = %q, want %q", in, got, want)
		}
	}
}

// Lines of every shape are re-logged without a panic, on one line each (empty lines skipped),
// and the last lines are kept for start errors.
func TestStderrLogNeverPanics(t *testing.T) {
	var out bytes.Buffer
	s := &stderrLog{log: hclog.New(&hclog.LoggerOptions{Name: "w", Level: hclog.Trace, Output: &out}), tail: &tail{}}
	in := strings.Join([]string{
		`{"@level":"error","@message":1}`,
		`{"@level":null,"@message":null,"@timestamp":[],"@module":{},"@caller":1}`,
		`{"@level":"warn","@message":"m","n":1.5e300,"b":true,"z":null,"o":{"k":"\u001b"},"a":["\n"]}`,
		`{"@level":"info"}{"@level":"info"}`,
		`{`, `}`, `null`, `"str"`, ``,
		`panic: boom`, `goroutine 1 [running]:`,
		strings.Repeat("x", maxLogLine+10),
		`{"@level":"info","@message":"after"}`,
	}, "\n") + "\n"
	s.run(strings.NewReader(in))
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 12 {
		t.Fatalf("%d lines logged:\n%s", len(lines), out.String())
	}
	if !strings.Contains(lines[2], `o="{\"k\":\"\u001b\"}"`) || !strings.Contains(lines[2], `a="[\"\n\"]"`) {
		t.Errorf("object field: %s", lines[2])
	}
	if !strings.Contains(lines[9], "[ERROR] w: goroutine 1") {
		t.Errorf("a panic's stack is not logged as an error: %s", lines[9])
	}
	if !strings.Contains(lines[10], "truncated=true") || strings.Count(lines[10], "x") != maxLogLine {
		t.Errorf("the long line: %.80s (%d x)", lines[10], strings.Count(lines[10], "x"))
	}
	if !strings.Contains(lines[11], "after") || !strings.Contains(s.tail.String(), "after") {
		t.Errorf("the last line: %s; tail %q", lines[11], s.tail.String())
	}
}
