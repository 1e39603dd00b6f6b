package sync

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// forEach calls fn for every item on jobs workers and returns when all
// calls have returned or ctx is done.
func forEach[T any](ctx context.Context, jobs int, items []T, fn func(T)) {
	work := make(chan T)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(work)
		for _, item := range items {
			select {
			case work <- item:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})
	for range jobs {
		g.Go(func() error {
			for item := range work {
				fn(item)
			}
			return nil
		})
	}
	_ = g.Wait() // the only error is ctx's, which the caller checks
}
