// Package plugin is the worker SDK: what a worker program imports to serve
// its functions to a farm (package farm).
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
// a message naming it ([Validate] checks the same in a test of your own). A
// panic becomes an error returned to the caller, with its stack, and the
// worker keeps serving. Wrap an error with [Permanent] to stop the farm
// from retrying it. Log with [Logger]: the lines reappear in the host's log
// at their level, named by worker. [OnShutdown] runs code before the
// process exits; [WithSerializers] adds serializers to JSON and CBOR.
//
// The binary runs only when a host starts it. Any number of host programs
// can use the same worker binary: the wire is a versioned protobuf service,
// package workerpb, that a host checks with Describe when it starts a
// worker. A worker in another language implements that service and the
// go-plugin handshake (see sdk/node).
package plugin
