// Package fixturetypes holds the types shared by the fixture workers and
// the tests that call them.
package fixturetypes

import "time"

// Nested is a struct with nested slices, maps and pointers for serializer
// round trips.
type Nested struct {
	Name    string
	Tags    []string
	Scores  map[string]float64
	Child   *Nested
	When    time.Time
	Payload []byte
}

// Failure is an error type with exported fields that reach the host as
// details.
type Failure struct {
	Code   int
	Reason string
}

func (f *Failure) Error() string { return "failure " + f.Reason }

// Echo is the answer of the fixture's default method.
type Echo struct {
	PID  int
	Args []any
}

// State is the answer of the fixture's getState: the process's state and
// its pid.
type State struct {
	State string
	PID   int
}
