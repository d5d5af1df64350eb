package main

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/workestrator/workestrator/benchmarks/internal/kernels"
	"github.com/workestrator/workestrator/pkg/farm"
)

// The images workload: a user's real job. Calls PNGs of about 400 KB
// (generated, noisy) are each decoded, grayscaled, halved and encoded
// again (kernels.GrayHalf, standard library codecs), by the farm, and by
// one goroutine per core in this process, alternately three times; the
// ratio of each pair is kept, and its median reported.
const imageW, imageH = 400, 360

func (r *goRunner) images() error {
	ctx := context.Background()
	f, err := r.warmFarm(ctx, 0)
	if err != nil {
		return err
	}
	defer f.Kill()
	imgs := make([][]byte, r.spec.Calls)
	for i := range imgs {
		imgs[i] = kernels.MakePNG(uint64(i), imageW, imageH)
	}
	want, err := kernels.GrayHalf(imgs[0])
	if err != nil {
		return err
	}
	got, err := farm.Call[[]byte](ctx, f, "grayHalf", imgs[0])
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("grayHalf in the worker differs from the same in this process")
	}
	// each runs job(i) for every image on n goroutines.
	each := func(n int, job func(i int) error) (float64, error) {
		var next atomic.Int64
		errs := make([]error, n)
		var wg sync.WaitGroup
		t0 := time.Now()
		for g := range n {
			wg.Go(func() {
				for i := next.Add(1) - 1; i < int64(len(imgs)); i = next.Add(1) - 1 {
					if err := job(int(i)); err != nil {
						errs[g] = err
						return
					}
				}
			})
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				return 0, err
			}
		}
		return float64(len(imgs)) / time.Since(t0).Seconds(), nil
	}
	window := r.spec.Workers * max(r.spec.PerWorker, 1)
	var farmRates, goRates, ratios []float64
	for range 3 {
		fr, err := each(window, func(i int) error {
			_, err := farm.Call[[]byte](ctx, f, "grayHalf", imgs[i])
			return err
		})
		if err != nil {
			return err
		}
		gr, err := each(runtime.NumCPU(), func(i int) error {
			_, err := kernels.GrayHalf(imgs[i])
			return err
		})
		if err != nil {
			return err
		}
		farmRates, goRates, ratios = append(farmRates, fr), append(goRates, gr), append(ratios, fr/gr)
	}
	r.add("images", "images_per_s", median(farmRates))
	r.add("images", "goroutines_images_per_s", median(goRates))
	r.add("images", "vs_goroutines", median(ratios))
	r.info = append(r.info, fmt.Sprintf("images: %d PNGs of %d×%d, %d KB each on average", len(imgs), imageW, imageH, avgKB(imgs)))
	return nil
}

func avgKB(bs [][]byte) int {
	n := 0
	for _, b := range bs {
		n += len(b)
	}
	return n / len(bs) / 1024
}
