package s3store_test

import (
	"errors"
	"testing"

	"github.com/s3seal/s3seal/sync/s3store"
)

func TestCheckEndpoint(t *testing.T) {
	tests := []struct {
		endpoint  string
		allowHTTP bool
		insecure  bool // want ErrInsecureEndpoint
		bad       bool // want another error
	}{
		{endpoint: ""},
		{endpoint: "https://s3.example.com"},
		{endpoint: "https://192.0.2.1:9000"},
		{endpoint: "http://127.0.0.1:7070"},
		{endpoint: "http://127.8.9.10"},
		{endpoint: "http://[::1]:7070"},
		{endpoint: "http://localhost:7070"},
		{endpoint: "http://LOCALHOST.", insecure: true}, // Go's NO_PROXY bypass knows only "localhost"
		{endpoint: "http://localhost.:7070", insecure: true},
		{endpoint: "http://192.0.2.1:9000", insecure: true},
		{endpoint: "http://192.0.2.1:9000", allowHTTP: true},
		{endpoint: "http://localhost.example.com", insecure: true},
		{endpoint: "http://127.0.0.1.example.com", insecure: true},
		{endpoint: "http://[::ffff:192.0.2.1]", insecure: true},
		{endpoint: "http://0.0.0.0:7070", insecure: true},
		{endpoint: "ftp://127.0.0.1", bad: true},
		{endpoint: "127.0.0.1:7070", bad: true},
	}
	for _, tt := range tests {
		err := s3store.CheckEndpoint(tt.endpoint, tt.allowHTTP)
		insecure := errors.Is(err, s3store.ErrInsecureEndpoint)
		if insecure != tt.insecure || (err != nil && !insecure) != tt.bad {
			t.Errorf("CheckEndpoint(%q, %v) = %v; want insecure %v, other error %v", tt.endpoint, tt.allowHTTP, err, tt.insecure, tt.bad)
		}
	}
}
