// Command wanproxy makes a loopback S3 server behave like one across a wide
// area link, for `make bench`: a TCP proxy on 127.0.0.1 that delays every
// byte by a one-way latency in each direction and shares one uplink rate
// (client to server) and one downlink rate among all its connections, as a
// home or office line does.
//
//	wanproxy -listen 127.0.0.1:7394 -target 127.0.0.1:7393 -delay 10ms -up 100M -down 100M
//
// Rates are in bits per second (k, M, G: powers of 1000, as links are sold).
// It serves until killed. Only loopback addresses are accepted.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:7394", "address to listen on (loopback)")
	target := flag.String("target", "127.0.0.1:7393", "address of the S3 server (loopback)")
	delay := flag.Duration("delay", 10*time.Millisecond, "one-way delay, each direction")
	up := flag.String("up", "100M", "shared uplink rate in bits per second (0: unlimited)")
	down := flag.String("down", "0", "shared downlink rate in bits per second (0: unlimited)")
	flag.Parse()
	if err := run(*listen, *target, *delay, *up, *down); err != nil {
		fmt.Fprintln(os.Stderr, "wanproxy:", err)
		os.Exit(1)
	}
}

func run(listen, target string, delay time.Duration, up, down string) error {
	for _, addr := range []string{listen, target} {
		if !loopback(addr) {
			return fmt.Errorf("%s is not a loopback address", addr)
		}
	}
	uplink, err := limiter(up)
	if err != nil {
		return err
	}
	downlink, err := limiter(down)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	log.Printf("wanproxy: %s -> %s, %v each way, up %s, down %s bit/s", listen, target, delay, up, down)
	for {
		client, err := ln.Accept()
		if err != nil {
			return err
		}
		go serve(client, target, delay, uplink, downlink)
	}
}

// limiter returns a limiter for a rate in bits per second; 0 is no limit.
func limiter(bitsPerSecond string) (*rate.Limiter, error) {
	bits, err := parseBits(bitsPerSecond)
	if err != nil || bits == 0 {
		return rate.NewLimiter(rate.Inf, 0), err
	}
	// A burst of 64 KiB keeps the limiter's granularity well under a
	// millisecond at 100 Mbit/s while letting writes be large.
	return rate.NewLimiter(rate.Limit(bits/8), 64<<10), nil
}

// serve relays one connection: each direction through its shared limiter
// and the delay.
func serve(client net.Conn, target string, delay time.Duration, uplink, downlink *rate.Limiter) {
	defer client.Close()
	server, err := net.Dial("tcp", target)
	if err != nil {
		log.Printf("wanproxy: dial %s: %v", target, err)
		return
	}
	defer server.Close()
	done := make(chan struct{}, 2)
	go func() { relay(server, client, delay, uplink); done <- struct{}{} }()
	go func() { relay(client, server, delay, downlink); done <- struct{}{} }()
	<-done // one side closed: close both, which ends the other relay
}

// chunk is bytes read at one moment, to be written delay later.
type chunk struct {
	data []byte
	due  time.Time
}

// relay copies src to dst, each read delivered delay after it was read
// (after the limiter let it through), in order. Reads go on while earlier
// chunks wait, so the delay adds latency without capping throughput at one
// buffer per round trip.
func relay(dst, src net.Conn, delay time.Duration, limit *rate.Limiter) {
	queue := make(chan chunk, 1024)
	go func() {
		defer close(queue)
		for {
			buf := make([]byte, 32<<10)
			n, err := src.Read(buf)
			if n > 0 {
				if werr := limit.WaitN(context.Background(), n); werr != nil {
					return
				}
				queue <- chunk{data: buf[:n], due: time.Now().Add(delay)}
			}
			if err != nil {
				return
			}
		}
	}()
	for c := range queue {
		time.Sleep(time.Until(c.due))
		if _, err := dst.Write(c.data); err != nil {
			break
		}
	}
	// Half-close so the peer sees the end of this direction, and drain
	// what the reader still queues until serve closes src.
	if tcp, ok := dst.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	for range queue {
	}
}

// loopback reports whether addr ("host:port") names a loopback address.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// parseBits parses a rate in bits per second with an optional k, M or G
// (powers of 1000).
func parseBits(s string) (float64, error) {
	scale := 1.0
	text := strings.TrimSpace(s)
	if n := len(text); n > 0 {
		switch text[n-1] {
		case 'k', 'K':
			scale, text = 1e3, text[:n-1]
		case 'm', 'M':
			scale, text = 1e6, text[:n-1]
		case 'g', 'G':
			scale, text = 1e9, text[:n-1]
		}
	}
	v, err := strconv.ParseFloat(text, 64)
	if err != nil || v < 0 {
		return 0, errors.New("invalid rate " + strconv.Quote(s) + ": want bits per second such as 100M")
	}
	return v * scale, nil
}
