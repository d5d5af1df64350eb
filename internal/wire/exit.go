package wire

import "strconv"

// ExitStatus says how a worker process ended.
type ExitStatus struct {
	// Code is the exit status, or -1 when a signal ended the process.
	Code int
	// Signal names the signal that ended the process, e.g. "killed"; empty
	// for a normal exit.
	Signal string
}

// String returns "exit status 2" or "signal: killed".
func (s ExitStatus) String() string {
	if s.Signal != "" {
		return "signal: " + s.Signal
	}
	return "exit status " + strconv.Itoa(s.Code)
}
