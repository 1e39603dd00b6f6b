// Package s3test runs a real S3 server for tests: the Versity S3 gateway
// (versitygw) with its posix backend in a temporary directory, listening on
// 127.0.0.1 and a free port.
//
// A test package starts one server for its whole test binary from TestMain:
//
//	func TestMain(m *testing.M) { os.Exit(s3test.Main(m)) }
//
// and each test calls Get to obtain it and NewBucket for a bucket of its own,
// so tests may run in parallel. GetMode gives a second server that answers
// as some S3 servers do and others not (DataIntegrityETags: ETags that are
// not MD5s), started on first use and also stopped by Main. The binary is $VERSITYGW if set, else
// versitygw in PATH, else in $(go env GOBIN) or $(go env GOPATH)/bin. When
// it cannot be found or started, Get skips the test, or fails it when the
// environment variable CI is set, so a continuous-integration run never
// passes without S3.
package s3test
