package farm_test

import (
	"context"
	"fmt"
	"time"

	"github.com/workestrator/workestrator/pkg/farm"
)

// A host farm draws its workers from an agent over NATS. The host embeds
// a NATS server (loopback, a free port); the agent, here in the same
// process, is what `workestrator serve --nats URL WORKER` runs on another
// machine.
func ExampleServeAgent() {
	host, err := farm.New(farm.Config{
		// No Path: no local worker, only the agents' workers.
		Remote: &farm.RemoteConfig{Listen: "127.0.0.1:0", Token: "s3cret"},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer host.Kill()

	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() {
		served <- farm.ServeAgent(ctx, farm.AgentConfig{
			Farm:  farm.Config{Path: workerBin, Workers: 2},
			URL:   host.URL(),
			Token: "s3cret",
			Name:  "b1",
		})
	}()
	for len(host.Stats().Workers) < 2 { // wait for the agent's 2 workers
		time.Sleep(10 * time.Millisecond)
	}

	sum, err := farm.Call[int](context.Background(), host, "add", 1, 2, 3)
	fmt.Println(sum, err)
	for _, w := range host.Stats().Workers {
		fmt.Println("slot", w.Slot, "of agent", w.Agent)
	}
	stop() // the agent drains and leaves
	fmt.Println(<-served)
	// Output:
	// 6 <nil>
	// slot 0 of agent b1
	// slot 1 of agent b1
	// <nil>
}
