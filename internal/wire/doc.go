// Package wire is what the host (internal/host) and the worker runtime
// (internal/worker) share: the go-plugin handshake and the environment a
// host gives a worker, the calls and replies of the data plane and their
// frames, the size limits derived from MaxMessageSize, and the batcher
// that gathers items from many goroutines into messages.
//
// Workers are hashicorp go-plugin subprocesses serving the Worker gRPC
// service of workerpb over a unix socket: Describe (methods, serializers,
// protocol version), Invoke (one call) and Stream, the farm's data plane,
// which carries batches of calls, cancels and replies so that many calls
// share one message when the queue is deep while a lone call is sent at
// once. Each argument is encoded on its own by the call's serializer;
// failures travel inside the reply as data, so the host tells a function's
// error from a dead worker.
//
// A Go worker also offers a faster data plane, which the host prefers: a
// second unix socket in the private directory go-plugin made for the
// worker, advertised in Describe with a one-off token. Both sides then
// exchange the Stream's messages (CallBatch one way, ReplyBatch back) as
// frames, a uvarint length then the protobuf bytes, written by the
// goroutine that flushes and read by the goroutine that handles them.
//
// On that socket, on Linux, big raw byte slices skip the frames: the host
// passes a sealed memfd with the token, an [Arena] that both map (the
// worker answers [ShmMapped], or [ShmDeclined] to go on without it), and
// copies a call's big arguments into a block it allocates for the call;
// the worker copies them out ([ShmArgs]) and may put a big raw result in
// the same block ([PutShmResult]), which the host copies out and checks
// against the block ([Arena.Settle]). See shm.go.
package wire
