package farm

import (
	"errors"
	"fmt"
	"time"

	"github.com/workestrator/workestrator/internal/host"
)

// Sentinel errors of the farm, matched with errors.Is.
var (
	// ErrInvalidConfig: New refused a Config field; the message names it.
	ErrInvalidConfig = errors.New("invalid farm config")
	// ErrMaxConcurrentCalls: the call was refused because MaxConcurrentCalls
	// calls are already queued or in flight. Never queued, never retried.
	ErrMaxConcurrentCalls = errors.New("too many concurrent calls")
	// ErrFarmKilled: the farm was killed before the call was answered, or
	// the call was made after Kill.
	ErrFarmKilled = errors.New("farm killed")
	// ErrShutdown: the call was made while Shutdown drains the farm; once
	// Shutdown has returned, calls get ErrFarmKilled.
	ErrShutdown = errors.New("farm shut down")
	// ErrTimeout: an attempt ran longer than Config.Timeout.
	ErrTimeout = errors.New("call timed out")
	// ErrWorkerTerminated: the worker running the call ended (exit, signal,
	// broken connection). See WorkerExitError.
	ErrWorkerTerminated = errors.New("worker terminated")
	// ErrAgentLost: the agent running the call (see RemoteConfig) stopped
	// answering heartbeats, left, restarted, refused the call (it drains),
	// or the farm's NATS connection dropped. The call may have run on it.
	// A *WorkerExitError with Agent set carries it.
	ErrAgentLost = errors.New("agent lost")
	// ErrWorkerStart: a worker could not be started.
	ErrWorkerStart = errors.New("worker failed to start")
	// ErrNoResult: Result.Decode on a call whose function returns no value.
	ErrNoResult = errors.New("call has no result")
	// ErrNotStarted: a method of a Farm that New did not make (a zero
	// Farm, or a nil *Farm).
	ErrNotStarted = errors.New("farm not made by farm.New")
)

// Errors of a worker's start, matched through a [StartError].
var (
	// ErrNotWorker: the program started but did not complete the worker
	// handshake (it is not a Workestrator worker, exited, or printed
	// something else first).
	ErrNotWorker = host.ErrNotWorker
	// ErrProtocolVersion: the worker speaks another version of the protocol.
	ErrProtocolVersion = host.ErrProtocolVersion
	// ErrChecksumMismatch: the worker binary does not match Config.Checksum;
	// it was not started.
	ErrChecksumMismatch = host.ErrChecksumMismatch
	// ErrMissingMethod: the binary given to Reload lacks a method that the
	// farm's workers have (Describe's method sets are compared).
	ErrMissingMethod = errors.New("worker lacks a method of the farm's workers")
)

// MaxRetriesError is the error of a call whose every attempt failed: 1 +
// MaxRetries attempts. It unwraps to the last attempt's error, so
// errors.Is(err, ErrTimeout) or errors.As(err, &remote) see through it.
type MaxRetriesError struct {
	// Method is the called method.
	Method string
	// Attempts is the number of attempts made.
	Attempts int
	// Last is the last attempt's error.
	Last error
}

// Error returns "method \"m\": failed after N attempts: <last>".
func (e *MaxRetriesError) Error() string {
	return fmt.Sprintf("method %q: failed after %d attempts: %v", e.Method, e.Attempts, e.Last)
}

// Unwrap returns the last attempt's error.
func (e *MaxRetriesError) Unwrap() error { return e.Last }

// WorkerExitError is the failure of a call whose worker ended while running
// it. It matches ErrWorkerTerminated.
type WorkerExitError struct {
	// Slot is the worker's slot in the farm: 0 ≤ Slot < Workers for a
	// local worker, after them for an agent's.
	Slot int
	// Agent names the agent of a remote worker; empty for a local one.
	Agent string
	// PID is the worker's process id.
	PID int
	// Status says how the process ended (exit code or signal).
	Status ExitStatus
	// Cause is the connection error seen first, if any.
	Cause error
}

// Error returns "worker 1 (pid 123) terminated: signal: killed", or for an
// agent's worker "worker 3 (pid 123) of agent b1 terminated: signal:
// killed" and "worker 3 (pid 123) of agent b1: agent lost: ...".
func (e *WorkerExitError) Error() string {
	if e.Agent == "" {
		return fmt.Sprintf("worker %d (pid %d) terminated: %v", e.Slot, e.PID, e.Status)
	}
	if e.Cause != nil {
		return fmt.Sprintf("worker %d (pid %d) of agent %s: %v", e.Slot, e.PID, e.Agent, e.Cause)
	}
	return fmt.Sprintf("worker %d (pid %d) of agent %s terminated: %v", e.Slot, e.PID, e.Agent, e.Status)
}

// Is matches ErrWorkerTerminated.
func (e *WorkerExitError) Is(target error) bool { return target == ErrWorkerTerminated }

// Unwrap returns the connection error seen first (Cause), if any: a worker
// whose frame was over MaxMessageSize ends with a cause matching
// ErrTooLarge.
func (e *WorkerExitError) Unwrap() error { return e.Cause }

// TimeoutError is the failure of an attempt that ran past Config.Timeout.
// It matches ErrTimeout.
type TimeoutError struct {
	// Method is the called method.
	Method string
	// Timeout is the configured per-attempt timeout.
	Timeout time.Duration
	// Attempt is the attempt number, from 1.
	Attempt int
	// PID is the worker that was running the attempt.
	PID int
}

// Error returns "method \"m\": attempt 1 timed out after 1s on pid 123".
func (e *TimeoutError) Error() string {
	return fmt.Sprintf("method %q: attempt %d timed out after %s on pid %d", e.Method, e.Attempt, e.Timeout, e.PID)
}

// Is matches ErrTimeout.
func (e *TimeoutError) Is(target error) bool { return target == ErrTimeout }

// StartError is the failure of a worker start. It matches ErrWorkerStart
// and unwraps to the cause (ErrNotWorker, ErrProtocolVersion,
// ErrChecksumMismatch, fs.ErrNotExist...).
type StartError struct {
	// Slot is the slot that was being filled.
	Slot int
	// Err is the cause.
	Err error
}

// Error returns "start worker 0: <cause>".
func (e *StartError) Error() string {
	if e.Slot < 0 {
		return fmt.Sprintf("start: %v", e.Err)
	}
	return fmt.Sprintf("start worker %d: %v", e.Slot, e.Err)
}

// Unwrap returns the cause.
func (e *StartError) Unwrap() error { return e.Err }

// Is matches ErrWorkerStart.
func (e *StartError) Is(target error) bool { return target == ErrWorkerStart }

// retryable reports whether a failed attempt may be run again.
func retryable(err error) bool {
	var re *RemoteError
	if errors.As(err, &re) {
		return re.Retryable()
	}
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrWorkerTerminated) || errors.Is(err, ErrWorkerStart)
}
