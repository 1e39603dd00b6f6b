package s3test_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/s3seal/s3seal/sync"
	"github.com/s3seal/s3seal/sync/s3store"
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

// TestGetModeDataIntegrityETags checks that the second gateway is really in
// its --data-integrity-etag mode (a Put's ETag is not the body's MD5, and
// the listing reports the ETag the Put answered), and that it is one server
// for the test binary, apart from the default one.
func TestGetModeDataIntegrityETags(t *testing.T) {
	srv := s3test.GetMode(t, s3test.DataIntegrityETags)
	if again := s3test.GetMode(t, s3test.DataIntegrityETags); again != srv {
		t.Errorf("GetMode twice started two servers: %s and %s", srv.Endpoint, again.Endpoint)
	}
	if def := s3test.GetMode(t, s3test.Default); def != s3test.Get(t) || def == srv {
		t.Errorf("GetMode(Default) = %s; want Get's server %s, not the other mode's", def.Endpoint, s3test.Get(t).Endpoint)
	}
	ctx := context.Background()
	st, err := s3store.New(ctx, srv.Config(srv.NewBucket(t)))
	if err != nil {
		t.Fatal(err)
	}
	body := []byte("hello")
	written, err := st.Put(ctx, "obj", body, sync.PutOptions{})
	etag := written.ETag
	if sum := md5.Sum(body); err != nil || etag == hex.EncodeToString(sum[:]) {
		t.Fatalf("Put in %v mode = %q, %v; want an ETag other than the MD5", srv.Mode, etag, err)
	}
	err = st.List(ctx, "", func(o sync.Object) error {
		if o.ETag != etag {
			t.Errorf("listed ETag %q; want the one Put answered, %q", o.ETag, etag)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
