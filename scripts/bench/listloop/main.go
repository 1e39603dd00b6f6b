// Command listloop measures what the S3 server allows for a listing: it
// lists every object under a prefix with a bare AWS SDK ListObjectsV2
// paginator, one page after another as any listing must go, and prints the
// objects and the seconds it took. scripts/bench/run.sh runs it after each
// scaling run's no-change sync, so the report can tell the server's share
// of that run from s3seal's.
//
//	listloop -bucket B -prefix P -endpoint URL
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	bucket := flag.String("bucket", "", "bucket to list")
	prefix := flag.String("prefix", "", "key prefix to list")
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	flag.Parse()
	if err := run(*bucket, *prefix, *endpoint); err != nil {
		fmt.Fprintln(os.Stderr, "listloop:", err)
		os.Exit(1)
	}
}

func run(bucket, prefix, endpoint string) error {
	ctx := context.Background()
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return err
	}
	c := s3.NewFromConfig(cfg, func(o *s3.Options) {
		o.BaseEndpoint = aws.String(endpoint)
		o.UsePathStyle = true
	})
	start := time.Now()
	n := 0
	pages := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: &prefix})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		n += len(page.Contents)
	}
	secs := time.Since(start).Seconds()
	fmt.Printf("%d objects listed in %.2f s (%.0f objects/s)\n", n, secs, float64(n)/secs)
	return nil
}
