package s3test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/s3seal/s3seal/sync/s3store"
)

// Server is a running versitygw.
type Server struct {
	Endpoint  string // "http://127.0.0.1:PORT"
	AccessKey string
	SecretKey string
	Region    string // "us-east-1"
	Dir       string // the posix backend root; each bucket is a sub-directory
	Mode      Mode   // how it answers where servers differ

	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has exited
	tempDir string        // holds Dir and the server's log
	logPath string
}

// Mode is how a server answers where S3-compatible servers differ.
type Mode int

const (
	// Default is versitygw as it starts by default: MD5 ETags, as S3
	// gives objects without SSE-KMS or SSE-C.
	Default Mode = iota
	// DataIntegrityETags is versitygw --data-integrity-etag: the ETags of
	// objects, parts and completed multipart uploads are derived from
	// CRC64NVME checksums, not MD5s, as AWS gives SSE-KMS and SSE-C
	// objects. Nothing can be learnt from their shape.
	DataIntegrityETags
)

func (m Mode) String() string {
	switch m {
	case Default:
		return "default"
	case DataIntegrityETags:
		return "--data-integrity-etag"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// args are the posix backend's flags for the mode.
func (m Mode) args() []string {
	if m == DataIntegrityETags {
		return []string{"--data-integrity-etag"}
	}
	return nil
}

const (
	readyTimeout = 20 * time.Second
	stopTimeout  = 5 * time.Second
	installHint  = "run scripts/install-deps.sh to install versitygw"
)

var (
	server     *Server
	startErr   error
	bucketSeq  atomic.Int64
	startMutex sync.Mutex // guards server, startErr, others and mainRuns

	// others are the servers of the other modes, started by the first
	// GetMode that asks for each and stopped by Main.
	others map[Mode]*otherServer
	// mainRuns says that Main runs the tests, and so stops what GetMode starts.
	mainRuns bool
)

// otherServer is a server of a mode other than Default, or why it did not
// start.
type otherServer struct {
	srv *Server
	err error
}

// Main starts one server for the test binary, runs the tests, stops the
// server, removes its directory and returns m.Run's exit code. A server that
// cannot start is not an error here: Get reports it to each test that asks.
// Fuzzing workers and runs that select no test nor benchmark start no server.
func Main(m *testing.M) int {
	startMutex.Lock()
	if runsTests(os.Args[1:]) {
		server, startErr = Start()
		if server != nil {
			fmt.Fprintf(os.Stderr, "s3test: versitygw (posix backend) serving %s\n", server.Endpoint)
		}
	} else {
		startErr = errors.New("no server in a fuzzing worker or a run of no tests")
	}
	mainRuns = true
	startMutex.Unlock()
	code := m.Run()
	startMutex.Lock()
	defer startMutex.Unlock()
	stop := []*Server{server}
	for _, o := range others {
		stop = append(stop, o.srv)
	}
	for _, srv := range stop {
		if srv == nil {
			continue
		}
		if err := srv.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "s3test: %v\n", err)
		}
	}
	return code
}

// runsTests reports whether the test binary's flags may run a test function
// (the testing package has not parsed them yet when Main starts).
func runsTests(args []string) bool {
	runs := true
	for _, arg := range args {
		switch {
		case strings.HasPrefix(arg, "-test.fuzzworker"):
			return false
		case arg == "-test.run=^$":
			runs = false
		case strings.HasPrefix(arg, "-test.bench=") && arg != "-test.bench=":
			return true // benchmarks need the server too
		}
	}
	return runs
}

// Get returns the server Main started. When there is none, it fails the test
// if the environment variable CI is non-empty and skips it otherwise, with a
// message saying why and to run scripts/install-deps.sh.
func Get(t testing.TB) *Server {
	t.Helper()
	startMutex.Lock()
	srv, err := server, startErr
	startMutex.Unlock()
	if srv != nil {
		return srv
	}
	if err == nil {
		err = errors.New("no server: call s3test.Main from TestMain")
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("s3test: %v (%s)", err, installHint)
	}
	t.Skipf("s3test: %v (%s)", err, installHint)
	return nil
}

// GetMode returns a server in mode, shared by the tests of the test binary
// like Get's: Default is Get's server, another mode's is started on first
// use and stopped by Main. A server that is missing or cannot start skips
// or fails the test as Get does.
func GetMode(t testing.TB, mode Mode) *Server {
	t.Helper()
	if mode == Default {
		return Get(t)
	}
	startMutex.Lock()
	o, ok := others[mode]
	if !ok {
		o = &otherServer{err: errors.New("no server: call s3test.Main from TestMain")}
		if mainRuns {
			o.srv, o.err = StartMode(mode)
			if o.srv != nil {
				fmt.Fprintf(os.Stderr, "s3test: versitygw (posix backend, %v) serving %s\n", mode, o.srv.Endpoint)
			}
		}
		if others == nil {
			others = make(map[Mode]*otherServer)
		}
		others[mode] = o
	}
	startMutex.Unlock()
	if o.srv != nil {
		return o.srv
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("s3test: %v versitygw: %v (%s)", mode, o.err, installHint)
	}
	t.Skipf("s3test: %v versitygw: %v (%s)", mode, o.err, installHint)
	return nil
}

// NewBucket creates a bucket with a fresh, valid, lower-case name and returns
// the name. It fails the test if the bucket cannot be created.
func (s *Server) NewBucket(t testing.TB) string {
	t.Helper()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("new bucket name: %v", err)
	}
	name := fmt.Sprintf("s3seal-test-%d-%s", bucketSeq.Add(1), hex.EncodeToString(suffix))
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	store, err := s3store.New(ctx, s.Config(name))
	if err != nil {
		t.Fatalf("new bucket %s: %v", name, err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatalf("new bucket %s: %v", name, err)
	}
	return name
}

// NewLockedBucket is NewBucket with Object Lock enabled (and so versioning).
func (s *Server) NewLockedBucket(t testing.TB) string {
	t.Helper()
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		t.Fatalf("new bucket name: %v", err)
	}
	name := fmt.Sprintf("s3seal-locked-%d-%s", bucketSeq.Add(1), hex.EncodeToString(suffix))
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cfg := s.Config(name)
	cfg.ObjectLock = true
	store, err := s3store.New(ctx, cfg)
	if err != nil {
		t.Fatalf("new bucket %s: %v", name, err)
	}
	if err := store.CreateBucket(ctx); err != nil {
		t.Fatalf("new bucket %s: %v", name, err)
	}
	return name
}

// Config returns an s3store.Config for bucket on this server, with static
// credentials.
func (s *Server) Config(bucket string) s3store.Config {
	return s3store.Config{
		Bucket:    bucket,
		Endpoint:  s.Endpoint,
		Region:    s.Region,
		AccessKey: s.AccessKey,
		SecretKey: s.SecretKey,
	}
}

// Start starts a versitygw on 127.0.0.1 and a free port with a posix backend
// in a new temporary directory, and waits until it answers a ListBuckets
// (at most 20 s). The caller stops it with Stop. Most tests use Main and Get
// instead.
func Start() (*Server, error) { return StartMode(Default) }

// StartMode starts a versitygw as Start does, in mode.
func StartMode(mode Mode) (*Server, error) {
	binary, err := findBinary()
	if err != nil {
		return nil, err
	}
	// A free port found by listening can be taken by another process before
	// versitygw binds it; try a few ports before giving up.
	for attempt := 1; ; attempt++ {
		srv, err := startOnFreePort(binary, mode)
		if err == nil || attempt == 3 {
			return srv, err
		}
	}
}

// findBinary locates versitygw: $VERSITYGW, then PATH, then the directories
// go install writes to ($(go env GOBIN), $(go env GOPATH)/bin).
func findBinary() (string, error) {
	if path := os.Getenv("VERSITYGW"); path != "" {
		return path, nil
	}
	if path, err := exec.LookPath("versitygw"); err == nil {
		return path, nil
	}
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err == nil {
		// One line per variable; GOBIN's is empty when it is unset.
		lines := strings.Split(string(out), "\n")
		var dirs []string
		if gobin := strings.TrimSpace(lines[0]); gobin != "" {
			dirs = append(dirs, gobin)
		}
		if len(lines) > 1 {
			for _, dir := range filepath.SplitList(strings.TrimSpace(lines[1])) {
				dirs = append(dirs, filepath.Join(dir, "bin"))
			}
		}
		for _, dir := range dirs {
			path := filepath.Join(dir, "versitygw")
			if info, err := os.Stat(path); err == nil && !info.IsDir() {
				return path, nil
			}
		}
	}
	return "", errors.New("versitygw not found in $VERSITYGW, PATH, $(go env GOBIN) or $(go env GOPATH)/bin")
}

// startOnFreePort starts binary on a port that was free a moment ago.
func startOnFreePort(binary string, mode Mode) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	tempDir, err := os.MkdirTemp("", "s3test-")
	if err != nil {
		return nil, fmt.Errorf("start versitygw: %w", err)
	}
	srv := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d", port),
		AccessKey: "s3test-" + randomHex(6),
		SecretKey: randomHex(20),
		Region:    "us-east-1",
		Dir:       filepath.Join(tempDir, "data"),
		Mode:      mode,
		tempDir:   tempDir,
		logPath:   filepath.Join(tempDir, "versitygw.log"),
		exited:    make(chan struct{}),
	}
	if err := srv.launch(binary, port); err != nil {
		os.RemoveAll(tempDir)
		return nil, err
	}
	if err := srv.waitReady(); err != nil {
		srv.Stop()
		return nil, err
	}
	return srv, nil
}

// launch starts the process with its output in the log file.
func (s *Server) launch(binary string, port int) error {
	if err := os.Mkdir(s.Dir, 0o700); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	defer logFile.Close()
	// Versioning is available (a bucket is versioned once asked to be),
	// and with it Object Lock.
	versions := s.Dir + "-versions"
	if err := os.Mkdir(versions, 0o700); err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	args := append([]string{"--port", fmt.Sprintf("127.0.0.1:%d", port), "--quiet", "posix", "--versioning-dir", versions}, s.Mode.args()...)
	s.cmd = exec.Command(binary, append(args, s.Dir)...)
	s.cmd.Env = append(os.Environ(), "ROOT_ACCESS_KEY="+s.AccessKey, "ROOT_SECRET_KEY="+s.SecretKey)
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = childAttr()
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("start versitygw %s: %w", binary, err)
	}
	go func() {
		s.cmd.Wait()
		close(s.exited)
	}()
	return nil
}

// waitReady polls until the port accepts connections and ListBuckets works.
func (s *Server) waitReady() error {
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	cfg := s.Config("s3test-ready")
	cfg.MaxAttempts = 1
	store, err := s3store.New(ctx, cfg)
	if err != nil {
		return fmt.Errorf("start versitygw: %w", err)
	}
	address := strings.TrimPrefix(s.Endpoint, "http://")
	var lastErr error
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited at start: %s", s.log())
		case <-ctx.Done():
			return fmt.Errorf("versitygw not ready after %v: %v; log: %s", readyTimeout, lastErr, s.log())
		case <-time.After(50 * time.Millisecond):
		}
		conn, err := net.DialTimeout("tcp", address, time.Second)
		if err != nil {
			lastErr = err
			continue
		}
		conn.Close()
		if _, lastErr = store.Buckets(ctx); lastErr == nil {
			return nil
		}
	}
}

// Stop stops the server (SIGTERM, then SIGKILL after 5 s) and removes its
// directory.
func (s *Server) Stop() error {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.exited:
		case <-time.After(stopTimeout):
			s.cmd.Process.Kill()
			<-s.exited
		}
	}
	if err := os.RemoveAll(s.tempDir); err != nil {
		return fmt.Errorf("remove versitygw directory: %w", err)
	}
	return nil
}

// log returns the end of the server's output, for error messages.
func (s *Server) log() string {
	out, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	out = bytes.TrimSpace(out)
	if len(out) > 2000 {
		out = out[len(out)-2000:]
	}
	if len(out) == 0 {
		return "(empty log)"
	}
	return string(out)
}

// freePort returns a TCP port on 127.0.0.1 that nothing listened on a moment
// ago.
func freePort() (int, error) {
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer listener.Close()
	return listener.Addr().(*net.TCPAddr).Port, nil
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("s3test: read random bytes: %v", err))
	}
	return hex.EncodeToString(b)
}
