// Package plugin is the worker side of a farm and the wire between host and
// worker.
//
// # Writing a worker
//
// A worker is a main package that registers plain Go functions by name and
// calls [Serve]:
//
//	func main() {
//		plugin.Serve(plugin.Methods{
//			plugin.DefaultMethod: func(ctx context.Context, n int) (float64, error) { ... },
//			"add":                func(a, b, c int) int { return a + b + c },
//		})
//	}
//
// A function may take a context.Context first (cancelled when the call
// times out, its caller gives up or the host stops the worker), then any
// number of arguments of types the serializer decodes, a final variadic
// parameter included, and return nothing, a value, an error, or a value and
// an error. Serve checks every shape at start-up and refuses a bad one with
// a message naming it. A panic becomes an error returned to the caller,
// with its stack, and the worker keeps serving. Wrap an error with
// [Permanent] to stop the farm from retrying it. Log with [Logger]: the
// lines reappear in the host's log at their level, named by worker.
//
// The binary runs only when a host starts it. Any number of host programs
// can use the same worker binary: the wire is a versioned protobuf service
// ([ProtocolVersion]) that a host checks with Describe when it starts a
// worker.
//
// # The wire
//
// Workers are hashicorp go-plugin subprocesses serving the Worker gRPC
// service of workerpb over a unix socket: Describe (methods, serializers,
// protocol version), Invoke (one call) and Stream, the farm's data plane,
// which carries batches of calls, cancels and replies so that many calls
// share one message when the queue is deep while a lone call is sent at
// once. Each argument is encoded on its own by the call's serializer;
// failures travel inside the reply as data ([RemoteError]), so the host
// tells a function's error from a dead worker. A worker in another
// language implements the same service and the go-plugin [Handshake].
//
// A Go worker also offers a faster data plane, which the host prefers: a
// second unix socket in the private directory go-plugin made for the
// worker, advertised in Describe with a one-off token. The host connects,
// writes the token, and the worker serves that one connection and removes
// the socket. Both sides then exchange the Stream's messages (CallBatch
// one way, ReplyBatch back) as frames, a uvarint length then the protobuf
// bytes, written by the goroutine that flushes and read by the goroutine
// that handles them: no gRPC goroutine hand-off in between, which halves a
// lone call's round trip. The socket is not encrypted, so a host with
// AutoMTLS uses the gRPC stream; so does a host with
// [LaunchConfig.GRPCStream] or [EnvDataPlane]=grpc, and a worker that
// offers no socket.
//
// # Host side
//
// [Launch] starts one worker process for the farm and returns its
// [Process] and [Conn]; package farm builds on it. It owns the process: it
// gives the worker a lifeline pipe whose EOF makes the worker exit when the
// host dies, puts it in its own process group, and stops it with a
// deadline that never hangs.
package plugin
