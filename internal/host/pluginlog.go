package host

import (
	"strings"

	"github.com/hashicorp/go-hclog"
)

// quietStdio is the logger given to go-plugin's client. It demotes to
// debug go-plugin's warnings that a worker's stdio service is unavailable:
// go-plugin prints them when a worker dies, or is stopped on purpose, in
// the instant between its handshake and its stdio stream, and the farm
// reports a worker's death itself. It demotes too the warning that a
// plugin "failed to exit gracefully": go-plugin's Kill runs once Stop has
// ended the process, and after a failed start it has no connection to
// close gracefully, and go-plugin's error when the stdout it scans ends
// other than by EOF.
type quietStdio struct{ hclog.Logger }

func (l quietStdio) quiet(level hclog.Level, msg string) hclog.Level {
	if level == hclog.Warn && (strings.HasPrefix(msg, "stdio service") || msg == "plugin failed to exit gracefully") {
		return hclog.Debug
	}
	if level == hclog.Error && msg == "error encountered while scanning stdout" {
		// The worker's stdout ends when the runner closes it after the
		// process ended; what the worker wrote is re-logged by the farm.
		return hclog.Debug
	}
	return level
}

func (l quietStdio) Log(level hclog.Level, msg string, args ...any) {
	l.Logger.Log(l.quiet(level, msg), msg, args...)
}

func (l quietStdio) Warn(msg string, args ...any) {
	l.Logger.Log(l.quiet(hclog.Warn, msg), msg, args...)
}

func (l quietStdio) Error(msg string, args ...any) {
	l.Logger.Log(l.quiet(hclog.Error, msg), msg, args...)
}

func (l quietStdio) Named(name string) hclog.Logger { return quietStdio{l.Logger.Named(name)} }
func (l quietStdio) ResetNamed(name string) hclog.Logger {
	return quietStdio{l.Logger.ResetNamed(name)}
}
func (l quietStdio) With(args ...any) hclog.Logger { return quietStdio{l.Logger.With(args...)} }
