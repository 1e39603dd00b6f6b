package s3store_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

// isolateAWSEnv points the SDK's default chain at nothing: no credential
// environment, no shared files, no instance metadata service (so nothing
// leaves the machine), no region.
func isolateAWSEnv(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	for name, value := range map[string]string{
		"AWS_ACCESS_KEY_ID":                      "",
		"AWS_SECRET_ACCESS_KEY":                  "",
		"AWS_SESSION_TOKEN":                      "",
		"AWS_PROFILE":                            "",
		"AWS_DEFAULT_PROFILE":                    "",
		"AWS_REGION":                             "",
		"AWS_DEFAULT_REGION":                     "",
		"AWS_ENDPOINT_URL":                       "",
		"AWS_ENDPOINT_URL_S3":                    "",
		"AWS_WEB_IDENTITY_TOKEN_FILE":            "",
		"AWS_ROLE_ARN":                           "",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI":     "",
		"AWS_CONFIG_FILE":                        filepath.Join(dir, "config"),
		"AWS_SHARED_CREDENTIALS_FILE":            filepath.Join(dir, "credentials"),
		"AWS_EC2_METADATA_DISABLED":              "true",
	} {
		t.Setenv(name, value)
	}
}

// These tests change the environment, so they do not run in parallel.

func TestDefaultChainUsesEnvironment(t *testing.T) {
	isolateAWSEnv(t)
	srv := s3test.Get(t)
	cfg := srv.Config(srv.NewBucket(t))
	t.Setenv("AWS_ACCESS_KEY_ID", cfg.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", cfg.SecretKey)
	cfg.AccessKey, cfg.SecretKey, cfg.Region = "", "", ""
	store := openStore(t, cfg)
	if err := store.CheckBucket(context.Background()); err != nil {
		t.Errorf("CheckBucket with credentials from the environment = %v; want nil", err)
	}
}

func TestNoCredentialsIsBadCredentials(t *testing.T) {
	isolateAWSEnv(t)
	srv := s3test.Get(t)
	cfg := srv.Config(srv.NewBucket(t))
	cfg.AccessKey, cfg.SecretKey = "", ""
	cfg.MaxAttempts = 2
	store := openStore(t, cfg)
	err := store.CheckBucket(context.Background())
	if !errors.Is(err, sync.ErrBadCredentials) {
		t.Errorf("CheckBucket without any credentials = %v; want ErrBadCredentials", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	isolateAWSEnv(t)
	tests := []struct {
		name string
		cfg  s3store.Config
	}{
		{"no bucket", s3store.Config{Endpoint: "http://127.0.0.1:9000"}},
		{"unknown profile", s3store.Config{Bucket: "b", Profile: "no-such-profile"}},
		{"endpoint without scheme", s3store.Config{Bucket: "b", Endpoint: "127.0.0.1:9000"}},
		{"endpoint with other scheme", s3store.Config{Bucket: "b", Endpoint: "ftp://127.0.0.1"}},
	}
	for _, test := range tests {
		if _, err := s3store.New(context.Background(), test.cfg); err == nil {
			t.Errorf("New(%s) = nil error; want an error", test.name)
		}
	}
}
