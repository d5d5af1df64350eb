package plugin_test

import (
	"context"
	"testing"

	"github.com/workestrator/workestrator/pkg/plugin"
)

var addArgs = [][]byte{[]byte("1"), []byte("2"), []byte("3")}

// BenchmarkInvokeUnary is one unary gRPC call at a time: the floor of a
// plain go-plugin call.
func BenchmarkInvokeUnary(b *testing.B) {
	p := launch(b, nil)
	ctx := context.Background()
	req := &plugin.Request{Method: "add", Args: addArgs}
	for b.Loop() {
		if _, err := p.Conn().Invoke(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStreamRoundTrip is one call at a time over the data-plane
// stream, without the farm.
func BenchmarkStreamRoundTrip(b *testing.B) {
	got := make(chan struct{}, 1)
	p := launch(b, func(rs []plugin.Response) { got <- struct{}{} })
	c := p.Conn()
	id := uint64(0)
	for b.Loop() {
		id++
		if c.Enqueue(&plugin.Request{ID: id, Method: "add", Args: addArgs}) {
			c.Flush()
		}
		<-got
	}
}
