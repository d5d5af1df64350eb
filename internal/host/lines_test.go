package host

import (
	"bytes"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestLineLogger(t *testing.T) {
	var out bytes.Buffer
	l := &lineLogger{log: hclog.New(&hclog.LoggerOptions{Output: &out, JSONFormat: true}), stream: "stdout"}
	l.Write([]byte("one\ntw"))
	l.Write([]byte("o\n"))
	long := bytes.Repeat([]byte{'x'}, 10*maxLogLine)
	for i := 0; i < len(long); i += 1000 {
		l.Write(long[i:min(i+1000, len(long))])
	}
	l.Write([]byte("\nthree\n"))
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("%d lines logged", len(lines))
	}
	for i, want := range []string{`"@message":"one"`, `"@message":"two"`, `"truncated":true`, `"@message":"three"`} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %.100s, want %s", i, lines[i], want)
		}
	}
	if n := strings.Count(lines[2], "x"); n != maxLogLine {
		t.Errorf("the long line kept %d bytes, want %d", n, maxLogLine)
	}
}
