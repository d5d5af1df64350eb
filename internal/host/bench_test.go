package host_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/workestrator/workestrator/internal/host"
	"github.com/workestrator/workestrator/internal/wire"
)

// workerEnv runs the worker as a farm does: one of Workers processes per
// core.
var workerEnv = []string{"GOMAXPROCS=1"}

var addArgs = [][]byte{[]byte("1"), []byte("2"), []byte("3")}

// BenchmarkInvokeUnary is one unary gRPC call at a time: the floor of a
// plain go-plugin call.
func BenchmarkInvokeUnary(b *testing.B) {
	p := launch(b, nil)
	ctx := context.Background()
	req := &wire.Request{Method: "add", Args: addArgs}
	for b.Loop() {
		if _, err := p.Conn().Invoke(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamRoundTrip is one call at a time over the data plane,
// without the farm: the worker's socket, then the gRPC stream.
func BenchmarkStreamRoundTrip(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			got := make(chan struct{}, 1)
			p := launchWith(b, host.LaunchConfig{
				GRPCStream:  tr.grpcStream,
				Env:         workerEnv,
				OnResponses: func(rs []wire.Response) { got <- struct{}{} },
			})
			c := p.Conn()
			id := uint64(0)
			lat := make([]time.Duration, 0, 1<<16)
			for b.Loop() {
				id++
				start := time.Now()
				if c.Enqueue(wire.Request{ID: id, Method: "add", Args: addArgs}) {
					c.Flush()
				}
				<-got
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkStreamWindow64 keeps 64 calls in flight on one worker.
func BenchmarkStreamWindow64(b *testing.B) {
	for _, tr := range transports {
		b.Run(tr.name, func(b *testing.B) {
			got := make(chan struct{}, 1024)
			p := launchWith(b, host.LaunchConfig{
				GRPCStream: tr.grpcStream,
				Env:        workerEnv,
				OnResponses: func(rs []wire.Response) {
					for range rs {
						got <- struct{}{}
					}
				},
			})
			c := p.Conn()
			id := uint64(0)
			inflight := 0
			for b.Loop() {
				for inflight >= 64 {
					<-got
					inflight--
				}
				id++
				inflight++
				if c.Enqueue(wire.Request{ID: id, Method: "add", Args: addArgs}) {
					if inflight == 1 {
						c.Flush()
					} else {
						c.Wake()
					}
				}
			}
			for ; inflight > 0; inflight-- {
				<-got
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "calls/s")
		})
	}
}
