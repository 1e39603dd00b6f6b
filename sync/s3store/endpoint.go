package s3store

import (
	"errors"
	"fmt"
	"net"
	"net/url"
)

// ErrInsecureEndpoint is wrapped by New's error when the endpoint is a plain
// http:// URL to a host other than this machine and Config.AllowHTTP is not
// set: anyone on the path could read the requests and answer them.
var ErrInsecureEndpoint = errors.New("plain http to a host that is not this machine")

// CheckEndpoint decides whether requests may go to endpoint, the URL of an
// S3-compatible server ("" = AWS, always https). An https:// URL is allowed
// (its certificate is verified by the HTTP client as usual). An http:// URL
// is allowed when its host is a loopback address (127.0.0.0/8, ::1) or
// "localhost", or when allowHTTP is true; otherwise the error wraps
// ErrInsecureEndpoint. Any other URL is refused. It sends nothing.
func CheckEndpoint(endpoint string, allowHTTP bool) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return fmt.Errorf("endpoint %q is not an http:// or https:// URL", endpoint)
	}
	if u.Scheme == "https" || allowHTTP || isLoopback(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("endpoint %s: %w", u.Redacted(), ErrInsecureEndpoint)
}

// isLoopback reports whether host (without port or brackets) names this
// machine without a resolver's help: a loopback IP literal, or localhost.
func isLoopback(host string) bool {
	if host == "localhost" {
		// Exactly: Go's proxy bypass (NO_PROXY) knows only this spelling, so
		// "localhost." or "LOCALHOST" could go to an HTTP_PROXY in clear.
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
