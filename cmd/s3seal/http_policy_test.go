package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// trapProxy is an HTTP forward proxy on 127.0.0.1 that answers every request
// itself with 502 and counts them. A child run with HTTP_PROXY pointing at it
// sends its plain-http S3 requests here instead of to the endpoint's host, so
// a test can name a non-loopback address (TEST-NET 192.0.2.1) and count what
// would have been sent there, with no traffic leaving the machine.
type trapProxy struct {
	url      string
	requests atomic.Int64
}

func startTrapProxy(t *testing.T) *trapProxy {
	t.Helper()
	trap := &trapProxy{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		trap.requests.Add(1)
		http.Error(w, "trap proxy: no upstream", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)
	trap.url = srv.URL
	return trap
}

// environ routes the env's plain-http requests through the trap.
func (trap *trapProxy) environ() []string {
	return []string{"HTTP_PROXY=" + trap.url, "http_proxy=" + trap.url, "NO_PROXY=", "no_proxy="}
}

// TestHTTPEndpointRefusedUnlessLoopback runs sync, restore and catalog pull
// with a plain http:// endpoint to a non-loopback address, given by
// --endpoint, by the config file and by AWS_ENDPOINT_URL: each is refused
// before any request, with a hint naming --allow-http. With --allow-http the
// same run does send its requests (to the trap), which proves the trap
// would have seen them.
func TestHTTPEndpointRefusedUnlessLoopback(t *testing.T) {
	e := newEnv(t)
	trap := startTrapProxy(t)
	e.extraEnv = append(e.extraEnv, trap.environ()...)
	const far = "http://192.0.2.1:9000"
	configHome := filepath.Join(e.home, "config")
	writeFile(t, filepath.Join(configHome, "s3seal", "config.toml"), []byte(fmt.Sprintf(
		"[targets.far]\nsource = %q\ntarget = %q\nrecipient = [%q]\nendpoint = %q\n", e.src, e.target, e.recipient, far)))
	dest := filepath.Join(t.TempDir(), "dest")
	runs := []struct {
		name string
		env  []string
		args []string
	}{
		{"sync --endpoint", nil, []string{"sync", e.src, e.target, "-r", e.recipient, "--endpoint", far}},
		{"restore --endpoint", nil, []string{"restore", e.target, dest, "-i", e.keyFile, "--endpoint", far}},
		{"catalog pull --endpoint", nil, []string{"catalog", "pull", e.src, e.target, "-i", e.keyFile, "--endpoint", far}},
		{"sync NAME (endpoint in the config)", []string{"XDG_CONFIG_HOME=" + configHome}, []string{"sync", "far"}},
		{"restore with AWS_ENDPOINT_URL", []string{"AWS_ENDPOINT_URL=" + far}, []string{"restore", e.target, dest, "-i", e.keyFile}},
		{"restore with AWS_ENDPOINT_URL_S3", []string{"AWS_ENDPOINT_URL_S3=" + far}, []string{"restore", e.target, dest, "-i", e.keyFile}},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			e := *e
			e.t = t
			e.extraEnv = append(append([]string(nil), e.extraEnv...), run.env...)
			before := trap.requests.Load()
			res := e.run(append(run.args, "--max-attempts", "1")...)
			if res.code != exitError || !strings.Contains(res.stderr, "plain http to a host that is not this machine") ||
				!strings.Contains(res.stderr, "s3seal: hint: if you trust every network between this machine and the server, pass --allow-http") {
				t.Errorf("%s: exit %d; want 1 with the http refusal and its hint\n%s", run.name, res.code, res.stderr)
			}
			if n := trap.requests.Load() - before; n != 0 {
				t.Errorf("%s: %d requests went out before the refusal; want none", run.name, n)
			}
			before = trap.requests.Load()
			res = e.run(append(run.args, "--max-attempts", "1", "--allow-http")...)
			if res.code == 0 || strings.Contains(res.stderr, "plain http to a host") {
				t.Errorf("%s --allow-http: exit %d; want a failed request, not the refusal\n%s", run.name, res.code, res.stderr)
			}
			if trap.requests.Load() == before {
				t.Errorf("%s --allow-http sent nothing to the trap: the test cannot see traffic\n%s", run.name, res.stderr)
			}
		})
	}
}
