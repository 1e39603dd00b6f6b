package s3store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/s3seal/s3seal/sync"
)

// Config says which bucket to use and how to reach it.
type Config struct {
	// Bucket is the bucket's name. Required.
	Bucket string
	// Endpoint is the URL of an S3-compatible server ("" = AWS, or the
	// endpoint_url of the shared config / AWS_ENDPOINT_URL). A custom
	// endpoint gets path-style addressing, and request checksums computed
	// and response checksums validated only when an operation requires them.
	Endpoint string
	// Region is the bucket's region ("" = from the profile or the
	// environment, else "us-east-1").
	Region string
	// Profile is the shared config profile ("" = the default chain's).
	Profile string
	// AccessKey and SecretKey, when both are set, are used as static
	// credentials; otherwise the SDK's default chain (AWS_* environment,
	// shared files, SSO, instance roles, ...) is used.
	AccessKey string
	SecretKey string
	// MaxAttempts is how many times a request is tried (0 = 10). Retries use
	// the standard retryer with a backoff of at most about 20 s and no
	// client-side retry quota.
	MaxAttempts int
	// HTTPClient carries the S3 requests (nil = a default tuned for many
	// concurrent uploads to one host). Tests pass fault-injecting proxies and
	// request counters here; callers can pass a bandwidth-limited client.
	HTTPClient *http.Client
	// BandwidthLimit caps the bytes per second of all request bodies
	// together (uploads, parts), on top of HTTPClient (0 = no limit).
	BandwidthLimit int64
	// AllowHTTP lets the endpoint be a plain http:// URL to a host that is
	// not a loopback address (see CheckEndpoint).
	AllowHTTP bool
	// ObjectLock makes CreateBucket create the bucket with Object Lock
	// enabled, which also enables versioning; it cannot be turned on later.
	ObjectLock bool
	// Prefix is the key prefix the caller works under, without leading or
	// trailing "/" ("" = the whole bucket). CheckBucket lists under it when
	// HeadBucket is refused, as it is to a credential that may list only
	// that prefix (the policy 's3seal policy' prints).
	Prefix string
}

const (
	defaultMaxAttempts = 10
	maxBackoff         = 20 * time.Second
	defaultRegion      = "us-east-1"
	// listPageSize is the number of keys asked for per ListObjectsV2 page,
	// the most S3 returns.
	listPageSize = 1000
	// maxCopySize is the largest source CopyObject accepts; larger sources
	// are copied with UploadPartCopy.
	maxCopySize = 5 << 30
	// copyPartSize is the part size of a multipart copy.
	copyPartSize = 512 << 20
)

// Store is one bucket. It is safe for concurrent use.
type Store struct {
	client *s3.Client
	bucket string
	region string
	lock   bool   // CreateBucket enables Object Lock
	prefix string // Config.Prefix
	// copyThreshold and copyPartSize are the multipart copy limits; tests
	// lower them to exercise UploadPartCopy without 5 GiB objects.
	copyThreshold int64
	copyPartSize  int64
}

// New returns a Store for cfg.Bucket. It loads the SDK configuration (profile,
// environment, credentials chain) but sends no request: use CheckBucket to
// find out whether the bucket is reachable. It fails on an empty bucket name,
// an endpoint that is not an http:// or https:// URL, an endpoint that
// CheckEndpoint refuses (wrapping ErrInsecureEndpoint), or an unknown
// profile. The endpoint checked is the one requests would go to: cfg.Endpoint,
// else AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url.
func New(ctx context.Context, cfg Config) (*Store, error) {
	if err := validate(cfg); err != nil {
		return nil, err
	}
	awsCfg, err := loadAWSConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	httpClient := cfg.HTTPClient
	if httpClient == nil {
		httpClient = newHTTPClient()
	}
	if cfg.BandwidthLimit > 0 {
		httpClient = limitBandwidth(httpClient, cfg.BandwidthLimit)
	}
	maxAttempts := cfg.MaxAttempts
	if maxAttempts <= 0 {
		maxAttempts = defaultMaxAttempts
	}
	custom := cfg.Endpoint != "" || awsCfg.BaseEndpoint != nil
	// The retryer and HTTP client are set on the S3 client only, so that the
	// credential chain's own clients (instance metadata, SSO, STS) keep the
	// SDK's short defaults instead of ten attempts each.
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		o.HTTPClient = httpClient
		o.Retryer = newRetryer(maxAttempts)
		o.ContinueHeaderThresholdBytes = -1
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		if custom {
			o.UsePathStyle = true
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
			o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		}
	})
	if err := checkResolvedEndpoint(cfg, client.Options().BaseEndpoint); err != nil {
		return nil, err
	}
	return &Store{
		client:        client,
		bucket:        cfg.Bucket,
		region:        awsCfg.Region,
		lock:          cfg.ObjectLock,
		prefix:        cfg.Prefix,
		copyThreshold: maxCopySize,
		copyPartSize:  copyPartSize,
	}, nil
}

// validate checks the parts of cfg that New can check without a request.
func validate(cfg Config) error {
	if cfg.Bucket == "" {
		return errors.New("new s3 store: empty bucket name")
	}
	if cfg.Endpoint != "" {
		endpoint, err := url.Parse(cfg.Endpoint)
		if err != nil || (endpoint.Scheme != "http" && endpoint.Scheme != "https") || endpoint.Host == "" {
			return fmt.Errorf("new s3 store for s3://%s: endpoint %q is not an http:// or https:// URL",
				cfg.Bucket, cfg.Endpoint)
		}
	}
	return nil
}

// checkResolvedEndpoint applies CheckEndpoint to the endpoint the client
// resolved, and names where it came from.
func checkResolvedEndpoint(cfg Config, endpoint *string) error {
	err := CheckEndpoint(aws.ToString(endpoint), cfg.AllowHTTP)
	if err == nil {
		return nil
	}
	if cfg.Endpoint == "" {
		return fmt.Errorf("new s3 store for s3://%s: %w (from AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL or the profile's endpoint_url)", cfg.Bucket, err)
	}
	return fmt.Errorf("new s3 store for s3://%s: %w", cfg.Bucket, err)
}

// loadAWSConfig loads the SDK configuration for cfg: region (default
// us-east-1), profile, and static or default-chain credentials, the latter
// marked so that their failures classify as ErrBadCredentials.
func loadAWSConfig(ctx context.Context, cfg Config) (aws.Config, error) {
	// The SDK's own log lines (retries, IMDS fallbacks) would interleave with
	// s3seal's output; what matters comes back as an error.
	loadOpts := []func(*config.LoadOptions) error{config.WithLogger(logging.Nop{})}
	if cfg.Endpoint != "" && os.Getenv("AWS_EC2_METADATA_DISABLED") == "" {
		// An S3-compatible server does not take EC2 instance-role
		// credentials; asking the metadata service for them only sends
		// requests off the machine and delays the "no credentials" error.
		loadOpts = append(loadOpts, config.WithEC2IMDSClientEnableState(imds.ClientDisabled))
	}
	if cfg.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(cfg.Region))
	}
	if cfg.Profile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(cfg.Profile))
	}
	static := cfg.AccessKey != "" && cfg.SecretKey != ""
	if static {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKey, cfg.SecretKey, "")))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load aws config for s3://%s: %w", cfg.Bucket, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = defaultRegion
	}
	if !static && awsCfg.Credentials != nil {
		awsCfg.Credentials = markedCredentials{awsCfg.Credentials}
	}
	return awsCfg, nil
}

// newRetryer returns the standard retryer with maxAttempts attempts, a
// backoff capped at maxBackoff and no retry quota.
func newRetryer(maxAttempts int) aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = maxBackoff
		o.Backoff = retry.NewExponentialJitterBackoff(maxBackoff)
		o.RateLimiter = ratelimit.None
	})
}

// failFast makes connection failures final for one request (see
// CheckBucket); errors from a server that answered are retried as usual.
func failFast(o *s3.Options) { o.Retryer = noRetryOnConnect{o.Retryer} }

// noRetryOnConnect is a retryer that does not retry failures to connect.
type noRetryOnConnect struct{ aws.Retryer }

func (r noRetryOnConnect) IsErrorRetryable(err error) bool {
	return !cannotConnect(err) && r.Retryer.IsErrorRetryable(err)
}

// newHTTPClient returns the default HTTP client: enough idle connections per
// host for many parallel part uploads, and timeouts on dialing, the TLS
// handshake and waiting for response headers, but none on whole requests,
// whose bodies may take minutes on a slow link.
func newHTTPClient() *http.Client {
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          512,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		ExpectContinueTimeout: time.Second,
	}}
}

// markedCredentials marks the errors of a credentials provider as
// credentialsError, so that "no credentials found" classifies as
// ErrBadCredentials.
type markedCredentials struct{ provider aws.CredentialsProvider }

func (m markedCredentials) Retrieve(ctx context.Context) (aws.Credentials, error) {
	creds, err := m.provider.Retrieve(ctx)
	if err != nil && ctx.Err() == nil {
		return creds, &credentialsError{err}
	}
	return creds, err
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// CheckBucket does one HeadBucket and returns nil if the bucket exists and
// the credentials may use it. Otherwise the error matches ErrNoSuchBucket,
// ErrBadCredentials, ErrAccessDenied or ErrUnreachable where one applies.
// HeadBucket answers carry no body, so a 403 is followed by one
// ListObjectsV2 (MaxKeys 1) under Config.Prefix, whose error code tells
// rejected credentials from a denied access. IAM refuses HeadBucket to a
// credential whose s3:ListBucket is restricted to a prefix (HeadBucket names
// none), and grants that listing.
//
// It is the first request of a run, so a failure to connect at all
// (connection refused, a name that does not resolve, a TLS handshake that
// fails) is reported after one attempt instead of after the retries with
// backoff that protect requests during a run: on a dead endpoint it fails
// in seconds, not minutes.
func (s *Store) CheckBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(s.bucket)}, failFast)
	if err == nil {
		return nil
	}
	if httpStatus(err) != http.StatusForbidden {
		return s.wrap("head bucket", "", err, sync.ErrNoSuchBucket)
	}
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), MaxKeys: aws.Int32(1)}
	if s.prefix != "" {
		in.Prefix = aws.String(s.prefix + "/")
	}
	_, listErr := s.client.ListObjectsV2(ctx, in, failFast)
	if listErr == nil {
		// Listing is allowed though HeadBucket is not: the bucket is usable
		// for what s3seal does.
		return nil
	}
	return s.wrap("check bucket", "", listErr, sync.ErrNoSuchBucket)
}

// CreateBucket creates the bucket in the store's region, with Object Lock
// when Config.ObjectLock says so. A bucket that already exists and is owned
// by the caller is not an error.
func (s *Store) CreateBucket(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(s.bucket)}
	if s.lock {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if s.region != defaultRegion {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.region),
		}
	}
	_, err := s.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	var apiErr smithy.APIError
	if err == nil || errors.As(err, &owned) ||
		(errors.As(err, &apiErr) && apiErr.ErrorCode() == "BucketAlreadyOwnedByYou") {
		return nil
	}
	return s.wrap("create bucket", "", err, sync.ErrNoSuchBucket)
}

// Buckets returns the names of the buckets the credentials own
// (ListBuckets, paginated). It is for diagnostics, such as suggesting a
// bucket when CheckBucket returns ErrNoSuchBucket.
func (s *Store) Buckets(ctx context.Context) ([]string, error) {
	var names []string
	pages := s3.NewListBucketsPaginator(s.client, &s3.ListBucketsInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, &opError{op: "list buckets", address: "s3://", sentinel: classify(err, nil), err: err}
		}
		for _, bucket := range page.Buckets {
			names = append(names, aws.ToString(bucket.Name))
		}
	}
	return names, nil
}
