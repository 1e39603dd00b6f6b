package s3test

import (
	"context"
	"fmt"
	"net"
)

// WaitIdle waits until the proxy has finished with clients that went away:
// every connection made to it before the call has been accepted and has
// closed, and no request is in flight. Call it once the clients are gone (a
// killed process): the server has then answered or failed all that they
// sent, and its state no longer moves. A live client's open connection
// keeps it waiting. It returns ctx's error if ctx ends first, and an error
// if the proxy is closed.
func (p *Proxy) WaitIdle(ctx context.Context) error {
	p.mu.Lock()
	p.waiters++
	downs := p.downs
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.waiters--; p.waiters == 0 {
			clear(p.accepted)
		}
		p.mu.Unlock()
	}()
	// A connection still in the listener's queue is not seen here, and the
	// request it carries may yet reach the server. A marker connection made
	// now is queued behind it: once the marker is accepted, so is every
	// connection made before it. A proxy that is down has no queue.
	marker, err := (&net.Dialer{}).DialContext(ctx, "tcp", p.addr)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		marker = nil
	} else {
		defer marker.Close()
	}
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.settled.Broadcast()
		p.mu.Unlock()
	})
	defer stop()
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		select {
		case <-p.closed:
			return fmt.Errorf("wait for the proxy on %s to be idle: it is closed", p.addr)
		default:
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("wait for the proxy on %s to be idle: %d connections open, %d requests in flight: %w",
				p.addr, len(p.conns), p.inFlight, err)
		}
		if marker != nil && (p.accepted[marker.LocalAddr().String()] || p.downs != downs) {
			// The queue ahead of the marker is empty (accepted, or dropped
			// with the listener): close the marker, and wait for the
			// proxy to see it closed like the others.
			marker.Close()
			marker = nil
		}
		if marker == nil && len(p.conns) == 0 && p.inFlight == 0 {
			return nil
		}
		p.settled.Wait()
	}
}
