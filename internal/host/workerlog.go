package host

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/hashicorp/go-hclog"
)

// What a worker writes is untrusted: the host re-logs it itself, never
// through go-plugin's stderr parser (whose type assertions panic on a line
// such as {"@message":1}), and escapes every control character, so that no
// line of a worker can crash the host or print a line that looks like the
// host's own.

// maxLogLine is the longest line of a worker's output that is re-logged; a
// longer line is cut there and the rest of it dropped.
const maxLogLine = 64 << 10

// stderrLog re-logs the lines a worker writes on its stderr: hclog JSON
// lines at their level, with their fields, others by the level their
// prefix names ("[WARN] ..."), and keeps the last ones for start errors.
type stderrLog struct {
	log     hclog.Logger // named after the worker
	tail    *tail
	inPanic bool // a panic started: the plain lines until the next log entry are errors
}

// run reads r to its end or its first error.
func (s *stderrLog) run(r io.Reader) {
	br := bufio.NewReaderSize(r, maxLogLine)
	skip := false // dropping the rest of a line that was too long
	for {
		line, isPrefix, err := br.ReadLine()
		if err != nil {
			return
		}
		if skip {
			skip = isPrefix
			continue
		}
		if len(line) == 0 {
			continue
		}
		s.tail.add(line)
		if isPrefix {
			s.plain(line, "truncated", true)
			skip = true
			continue
		}
		if len(line) > 0 && line[0] == '{' && s.entry(line) {
			continue
		}
		s.plain(line)
	}
}

// plain re-logs a line that is not an hclog entry, at the level its prefix
// names; once a panic or fatal error started, at error level.
func (s *stderrLog) plain(line []byte, args ...any) {
	msg := escape(string(line))
	level := hclog.Debug
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info}, {"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}} {
		if strings.HasPrefix(msg, p.prefix) {
			level = p.level
			break
		}
	}
	if strings.HasPrefix(msg, "panic: ") || strings.HasPrefix(msg, "fatal error: ") {
		s.inPanic = true
	}
	if s.inPanic {
		level = hclog.Error
	}
	s.log.Log(level, msg, args...)
}

// entry re-logs an hclog JSON line and reports whether line was one: a
// JSON object with a known @level. Whatever the types of its values, it
// never panics.
func (s *stderrLog) entry(line []byte) bool {
	var raw map[string]any
	d := json.NewDecoder(bytes.NewReader(line))
	d.UseNumber()
	if d.Decode(&raw) != nil || d.More() {
		return false
	}
	lv, _ := raw["@level"].(string)
	level := hclog.LevelFromString(lv)
	if level == hclog.NoLevel || level == hclog.Off {
		return false
	}
	s.inPanic = false // the worker logs again: a panic's dump is over
	if level < s.log.GetLevel() {
		return true
	}
	msg := ""
	if m, ok := raw["@message"]; ok {
		msg = text(m)
	}
	log := s.log
	if m, ok := raw["@module"]; ok {
		if name := text(m); name != "" {
			log = log.Named(name)
		}
	}
	keys := make([]string, 0, len(raw))
	for k := range raw {
		switch k {
		case "@level", "@message", "@module":
		default:
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		v := raw[k]
		switch k {
		case "@timestamp":
			k = "timestamp"
			if ts, ok := v.(string); ok {
				if t, err := time.Parse("2006-01-02T15:04:05.000000Z07:00", ts); err == nil {
					v = t.Format(hclog.TimeFormat)
				}
			}
		case "@caller":
			k = "caller"
		}
		args = append(args, escape(k), value(v))
	}
	log.Log(level, msg, args...)
	return true
}

// text returns a JSON value as escaped text: a string as itself, anything
// else as its JSON.
func text(v any) string {
	if s, ok := v.(string); ok {
		return escape(s)
	}
	b, _ := json.Marshal(v)
	return escape(string(b))
}

// value returns a JSON value to log as a field: numbers, booleans and null
// as they are, strings escaped, objects and arrays as escaped JSON text.
func value(v any) any {
	switch v := v.(type) {
	case nil, bool, json.Number:
		return v
	case string:
		return escape(v)
	}
	return text(v)
}

// escape returns s with its control characters written as Go escapes
// (\n, \r, \t, \x1b, \u0085...), as are invalid UTF-8 bytes, Unicode line
// separators and bidirectional overrides: the result prints on one line,
// with no terminal escape sequence.
func escape(s string) string {
	i := 0
	for ; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			break
		}
	}
	if i == len(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	b.WriteString(s[:i])
	for i < len(s) {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r >= 0x80 && r < 0xa0, r == 0x2028, r == 0x2029,
			r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// lineLogger re-logs what a worker writes on its redirected stdout or
// stderr (go-plugin's stdio stream, after the handshake), line by line, at
// info level, escaped. A line longer than maxLogLine is cut there; the
// rest of it is dropped.
type lineLogger struct {
	log    hclog.Logger
	stream string
	mu     sync.Mutex
	part   []byte
	skip   bool // dropping the rest of a line that was too long
}

func (l *lineLogger) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(b)
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			if !l.skip {
				l.add(b)
			}
			break
		}
		if !l.skip {
			l.add(b[:i])
			if !l.skip {
				l.log.Info(escape(string(l.part)), "stream", l.stream)
			}
		}
		l.part = l.part[:0]
		l.skip = false
		b = b[i+1:]
	}
	if len(l.part) == 0 && cap(l.part) > maxLogLine {
		l.part = nil
	}
	return n, nil
}

// add appends to the current line, or logs it cut if it gets too long.
func (l *lineLogger) add(b []byte) {
	if room := maxLogLine - len(l.part); len(b) > room {
		l.part = append(l.part, b[:room]...)
		l.log.Info(escape(string(l.part)), "stream", l.stream, "truncated", true)
		l.part = l.part[:0]
		l.skip = true
		return
	}
	l.part = append(l.part, b...)
}

// tail keeps the last lines a worker wrote on stderr, escaped, for start
// errors.
type tail struct {
	mu    sync.Mutex
	lines []string
}

const tailLines = 8

// add keeps line (at most its first 4 KiB).
func (t *tail) add(line []byte) {
	line = bytes.TrimSpace(line[:min(len(line), 4096)])
	if len(line) == 0 {
		return
	}
	s := escape(string(line))
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, s)
	if len(t.lines) > tailLines {
		t.lines = t.lines[1:]
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "\n")
}
