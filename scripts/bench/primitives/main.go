// Command primitives prints this machine's speed of the primitives s3seal
// spends its CPU on, one core each, so that `make bench` figures from
// different machines can be compared: MD5 (the catalog's content hash),
// SHA-256 (restore's strong hash, and the signed hash of every upload's
// body), ChaCha20-Poly1305 over 64 KiB chunks (age's payload) and one age
// X25519 header (every file).
package main

import (
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

func main() {
	buf := make([]byte, 64<<10)
	out := make([]byte, 0, len(buf)+chacha20poly1305.Overhead)
	aead, err := chacha20poly1305.New(make([]byte, chacha20poly1305.KeySize))
	if err != nil {
		fail(err)
	}
	nonce := make([]byte, chacha20poly1305.NonceSize)
	fmt.Printf("md5: %.0f MB/s\n", throughput(func() { md5.Sum(buf) }, len(buf)))
	fmt.Printf("sha256: %.0f MB/s\n", throughput(func() { sha256.Sum256(buf) }, len(buf)))
	fmt.Printf("chacha20poly1305: %.0f MB/s\n", throughput(func() { aead.Seal(out[:0], nonce, buf, nil) }, len(buf)))
	id, err := age.GenerateX25519Identity()
	if err != nil {
		fail(err)
	}
	per := perOp(func() {
		if _, err := age.Encrypt(io.Discard, id.Recipient()); err != nil {
			fail(err)
		}
	})
	fmt.Printf("age X25519 header: %.0f us\n", per.Seconds()*1e6)
}

// throughput runs f, which processes n bytes, for about a second and
// returns megabytes (10^6) per second.
func throughput(f func(), n int) float64 {
	return float64(n) / perOp(f).Seconds() / 1e6
}

// perOp runs f for about a second and returns the time one call took.
func perOp(f func()) time.Duration {
	f() // warm up
	calls := 0
	start := time.Now()
	for time.Since(start) < time.Second {
		for range 16 {
			f()
		}
		calls += 16
	}
	return time.Since(start) / time.Duration(calls)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "primitives:", err)
	os.Exit(1)
}
