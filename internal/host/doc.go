// Package host starts and stops worker processes and talks to them: the
// host's side of the wire, which package farm builds on.
//
// [Launch] starts one worker through go-plugin and returns its [Process]
// and [Conn]. It owns the process: the file it checks (Checksum) is the
// file it runs, the worker gets a lifeline pipe whose EOF makes it exit
// when the host dies, it runs in its own process group, its stderr is read
// and re-logged here (escaped, never parsed by go-plugin), and stopping it
// has a deadline and never hangs. The data plane is the worker's socket
// when it offers one inside its own socket directory, else the gRPC
// stream; every frame is bounded before anything is allocated for it.
package host
