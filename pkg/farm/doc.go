// Package farm runs calls in a farm of worker processes: CPU-heavy,
// crash-prone or isolated work off the main process, spread over every
// core, and never lost.
//
// A worker is an executable built with [github.com/workestrator/workestrator/pkg/plugin]
// that registers plain Go functions by name. The host starts a farm of
// them with [New] and calls the functions:
//
//	f, err := farm.New(farm.Config{Path: "./my-worker"})
//	if err != nil { ... }
//	defer f.Kill()
//	sum, err := farm.Call[int](ctx, f, "add", 1, 2, 3)
//
// # Calls
//
// [Farm.Run] calls the worker's default method, [Farm.RunMethod] a named
// one; both wait for the answer and return a [Result] to decode. [Call]
// decodes into a type directly. [Farm.Go] returns a [Future] at once and
// starts no goroutine, so a program can have 100,000 calls in flight.
// [Farm.Broadcast] and [Farm.BroadcastMethod] call every worker once.
//
// Calls wait in a FIFO queue and go to the available worker with the
// fewest calls in flight; a worker takes at most
// Config.MaxConcurrentCallsPerWorker at once. Config.MaxConcurrentCalls
// caps the calls queued plus in flight: one more is refused with
// [ErrMaxConcurrentCalls]. The context of a call bounds it while queued and
// while running; when it ends, the function's context in the worker is
// cancelled.
//
// # Per-call options
//
// [Farm.With] returns a [Caller] whose calls run with [CallOptions]: a
// priority (higher first, FIFO within one, bounded by [StarvationLimit]),
// a sticky key (the same worker while it lives, by rendezvous hashing), a
// Timeout and MaxRetries of their own, and Wait, a blocking submit under
// Config.MaxConcurrentCalls. [Call] and [GoCall] take a Caller as they
// take a Farm: both are an [Invoker].
//
// # Failures
//
// A function's error reaches the caller as a [*RemoteError] with its Go
// type name, message and exported fields; a panic becomes a RemoteError
// matching [ErrPanic], with the stack, and the worker keeps serving. A
// worker that dies fails its calls with a [*WorkerExitError] and is
// replaced at once. Failed attempts (function errors, panics, timeouts,
// worker deaths) are retried at the front of the queue up to
// Config.MaxRetries times, then answered with a [*MaxRetriesError] that
// unwraps to the last attempt's error. Never retried: unknown methods, bad
// arguments or results, errors marked with plugin.Permanent, refusals, the
// caller's own cancellation, and calls of a killed farm.
//
// # Recycling and stopping
//
// Config.Timeout bounds each attempt; a worker that ignores the
// cancellation for KillTimeout more is recycled (stopped once its other
// calls are answered, or after another KillTimeout without an answer, its
// calls then retried elsewhere). Config.TTL replaces a
// worker after that many calls, Config.MaxIdleTime after that long without
// work, Config.MaxWorkerMemory when its resident memory grows past it
// (Config.MaxWorkerMemoryHard kills it at once, like a crash); the
// replacement starts at once and no call is lost. Stopping a
// worker asks it to exit, then kills its process group after KillTimeout:
// it never hangs, not even on a frozen worker or one whose child holds its
// pipes. If the host dies, its workers exit within a second.
//
// [Farm.Kill] stops a farm at once and answers every call with
// [ErrFarmKilled]; [KillAll] kills every farm of the process;
// [Farm.Shutdown] lets the queue drain first.
//
// # Setup and upgrades
//
// Config.Init is a call every worker runs before its first call, the
// replacements included; a failing Init fails the start. [Farm.Reload]
// replaces every worker by one of a new binary, slot by slot, each new
// worker online before the old one drains, without losing a call; a bad
// binary is refused before any worker is replaced.
//
// # Observability
//
// Config.OnEvent receives an [Event] for each worker fork, online,
// message, retry, timeout, ttl, idle, memory, memory-kill, disconnect,
// exit and close, and an error for a failed start.
// [Farm.Stats] returns counters and queue-wait and run-time percentiles.
// Logs go to Config.Logger, an hclog.Logger; by default warnings and errors
// go to stderr, and WORKESTRATOR_LOG=debug (or trace) shows more, for the
// farm and its workers alike.
package farm
