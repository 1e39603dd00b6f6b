// Command putloop measures what the S3 server allows: it puts every file
// under a folder as one object, with a given number of requests in flight,
// and prints the objects per second. scripts/bench/run.sh runs it next to
// s3seal, twice: with -client sdk, a bare loop over the AWS SDK's PutObject
// (configured as s3seal configures it for a custom endpoint: path-style,
// the body's SHA-256 as the signed payload hash, no Content-MD5, no
// 100-continue), and with -client s3seal,
// through s3seal's own S3 client (package s3store), which is the same SDK
// client with s3seal's retryer, HTTP client and error classification.
//
//	putloop -client sdk -bucket B -endpoint URL -jobs 16 -overhead 250 DIR
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
)

func main() {
	client := flag.String("client", "sdk", "sdk (the AWS SDK's PutObject) or s3seal (s3seal's S3 client)")
	bucket := flag.String("bucket", "", "bucket to put into")
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	jobs := flag.Int("jobs", 16, "requests in flight")
	overhead := flag.Int("overhead", 0, "bytes added to every object (age's header and tag)")
	flag.Parse()
	if err := run(*client, *bucket, *endpoint, *jobs, *overhead, flag.Arg(0)); err != nil {
		fmt.Fprintln(os.Stderr, "putloop:", err)
		os.Exit(1)
	}
}

type putFunc func(ctx context.Context, key string, body []byte) error

func run(client, bucket, endpoint string, jobs, overhead int, root string) error {
	ctx := context.Background()
	var put putFunc
	switch client {
	case "sdk":
		cfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return err
		}
		c := s3.NewFromConfig(cfg, func(o *s3.Options) {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
			o.ContinueHeaderThresholdBytes = -1
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		})
		// Over plain http the SDK hashes the body with SHA-256 and signs
		// it, as s3seal does with the hash it computed itself.
		put = func(ctx context.Context, key string, body []byte) error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{
				Bucket:        aws.String(bucket),
				Key:           aws.String(key),
				Body:          bytes.NewReader(body),
				ContentLength: aws.Int64(int64(len(body))),
			})
			return err
		}
	case "s3seal":
		st, err := s3store.New(ctx, s3store.Config{Bucket: bucket, Endpoint: endpoint})
		if err != nil {
			return err
		}
		put = func(ctx context.Context, key string, body []byte) error {
			_, err := st.Put(ctx, key, body, sync.PutOptions{})
			return err
		}
	default:
		return fmt.Errorf("unknown -client %q; want sdk or s3seal", client)
	}
	var paths []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
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
			return put(gctx, "putloop-"+client+"/"+filepath.ToSlash(rel), body)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	d := time.Since(start)
	fmt.Printf("%d objects in %.2f s: %.0f objects/s\n", len(paths), d.Seconds(), float64(len(paths))/d.Seconds())
	return nil
}
