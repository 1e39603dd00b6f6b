package s3test

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

// TestWaitIdleCountsQueuedConnections checks that WaitIdle waits for the
// requests of clients that went away before the proxy accepted their
// connections. The proxy tracks each new connection under its lock, so
// while the test holds the lock the proxy accepts at most one: the others
// wait in the listener's queue, their requests sent and their clients gone.
func TestWaitIdleCountsQueuedConnections(t *testing.T) {
	var served atomic.Int32
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		served.Add(1)
	}))
	defer server.Close()
	proxy, err := NewProxy(server.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()

	const clients = 10
	proxy.mu.Lock()
	for i := range clients {
		conn, err := net.Dial("tcp", proxy.addr)
		if err != nil {
			proxy.mu.Unlock()
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "PUT /b/k%d HTTP/1.1\r\nHost: %s\r\nContent-Length: 4\r\n\r\nbody", i, proxy.addr)
		conn.Close()
	}
	proxy.mu.Unlock()
	if err := proxy.WaitIdle(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := served.Load(); n != clients {
		t.Errorf("when WaitIdle returned the server had answered %d of the %d requests sent", n, clients)
	}
}
