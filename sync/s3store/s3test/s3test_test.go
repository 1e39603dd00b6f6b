package s3test_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store/s3test"
)

func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }

func TestNewBucketIsADirectoryOfTheBackend(t *testing.T) {
	srv := s3test.Get(t)
	first, second := srv.NewBucket(t), srv.NewBucket(t)
	if first == second {
		t.Fatalf("NewBucket twice = %q, %q; want different names", first, second)
	}
	for _, bucket := range []string{first, second} {
		info, err := os.Stat(filepath.Join(srv.Dir, bucket))
		if err != nil || !info.IsDir() {
			t.Errorf("bucket %s: stat backend dir = %v, %v; want a directory", bucket, info, err)
		}
		if !validBucketName(bucket) {
			t.Errorf("NewBucket = %q; want a lower-case S3 bucket name of 3-63 characters", bucket)
		}
	}
}

func TestConfigNamesTheServer(t *testing.T) {
	srv := s3test.Get(t)
	cfg := srv.Config("some-bucket")
	if cfg.Bucket != "some-bucket" || cfg.Endpoint != srv.Endpoint || cfg.AccessKey != srv.AccessKey ||
		cfg.SecretKey != srv.SecretKey || cfg.Region != "us-east-1" {
		t.Errorf("Config(some-bucket) = {Bucket: %q, Endpoint: %q, Region: %q}; want some-bucket on %s in us-east-1 with the server's keys", cfg.Bucket, cfg.Endpoint, cfg.Region, srv.Endpoint)
	}
}

func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for _, c := range name {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func TestStartReportsFailures(t *testing.T) {
	dir := t.TempDir()
	dying := filepath.Join(dir, "dying-server")
	script := "#!/bin/sh\necho 'fatal: cannot open backend' >&2\nexit 3\n"
	if err := os.WriteFile(dying, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		binary  string
		wantErr string
	}{
		{filepath.Join(dir, "missing"), "missing"},
		{dying, "fatal: cannot open backend"},
	}
	for _, test := range tests {
		t.Setenv("VERSITYGW", test.binary)
		srv, err := s3test.Start()
		if err == nil {
			srv.Stop()
			t.Errorf("Start with VERSITYGW=%s = nil error; want one mentioning %q", test.binary, test.wantErr)
			continue
		}
		if !strings.Contains(err.Error(), test.wantErr) {
			t.Errorf("Start with VERSITYGW=%s = %v; want an error mentioning %q", test.binary, err, test.wantErr)
		}
	}
}

func TestStopRemovesBackendDir(t *testing.T) {
	s3test.Get(t) // skips or fails like the other tests when versitygw is missing
	srv, err := s3test.Start()
	if err != nil {
		t.Fatalf("Start = %v", err)
	}
	srv.NewBucket(t)
	if err := srv.Stop(); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if _, err := os.Stat(srv.Dir); !os.IsNotExist(err) {
		t.Errorf("after Stop, stat %s = %v; want it removed", srv.Dir, err)
	}
}
