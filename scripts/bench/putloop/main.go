// Command putloop measures what the S3 server itself allows: it puts every
// file under a folder as one object, with a given number of requests in
// flight, through the same client s3seal uses (package s3store), and prints
// the objects per second. scripts/bench/run.sh runs it next to s3seal to
// show how close s3seal comes to the server's limit.
//
//	putloop -bucket B -endpoint URL -jobs 16 -overhead 200 DIR
package main

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/s3seal/s3seal/sync/s3store"
)

func main() {
	bucket := flag.String("bucket", "", "bucket to put into")
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	jobs := flag.Int("jobs", 16, "requests in flight")
	overhead := flag.Int("overhead", 0, "bytes added to every object (age's header and tag)")
	flag.Parse()
	if err := run(*bucket, *endpoint, *jobs, *overhead, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "putloop:", err)
		os.Exit(1)
	}
}

func run(bucket, endpoint string, jobs, overhead int, root string) error {
	ctx := context.Background()
	st, err := s3store.New(ctx, s3store.Config{Bucket: bucket, Endpoint: endpoint})
	if err != nil {
		return err
	}
	var paths []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		return err
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for _, p := range paths {
		g.Go(func() error {
			body, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			body = append(body, make([]byte, overhead)...)
			rel, _ := filepath.Rel(root, p)
			_, err = st.Put(gctx, "putloop/"+filepath.ToSlash(rel), body, s3store.PutOptions{})
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("%d objects in %.2f s: %.0f objects/s\n", len(paths), d.Seconds(), float64(len(paths))/d.Seconds())
	return nil
}
