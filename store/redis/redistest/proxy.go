package redistest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Proxy is a TCP proxy to the test Redis that a test can take down and
// bring back, to show what a node does while Redis is unreachable. While
// down it accepts connections and closes them at once, as a Redis that
// went away would look to a client (no port is given up, so nothing else
// can take it meanwhile).
type Proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	down  bool
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

// MustProxy starts a Proxy to the Redis rdb talks to; it stops at the end
// of tb.
func MustProxy(tb testing.TB, rdb *goredis.Client) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{ln: ln, target: rdb.Options().Addr, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	// Stopped by the cleanup below, which closes the listener.
	go p.accept()
	tb.Cleanup(func() {
		ln.Close()
		p.Down()
		p.wg.Wait()
	})
	return p
}

// Client returns a client that reaches Redis through the proxy, without
// retries and with short timeouts, so an outage shows at once. It is
// closed at the end of tb.
func (p *Proxy) Client(tb testing.TB) *goredis.Client {
	rdb := goredis.NewClient(&goredis.Options{
		Addr: p.ln.Addr().String(), MaxRetries: -1, ContextTimeoutEnabled: true,
		DialTimeout: time.Second, ReadTimeout: time.Second, WriteTimeout: time.Second,
	})
	tb.Cleanup(func() { rdb.Close() })
	return rdb
}

// Down cuts every connection through the proxy and refuses new ones.
func (p *Proxy) Down() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for c := range p.conns {
		c.Close()
	}
}

// Up lets connections through again.
func (p *Proxy) Up() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.down {
			p.mu.Unlock()
			c.Close()
			continue
		}
		up, err := net.DialTimeout("tcp", p.target, time.Second)
		if err != nil {
			p.mu.Unlock()
			c.Close()
			continue
		}
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.wg.Add(2)
		p.mu.Unlock()
		// Each copier ends when either side closes (Down closes both).
		pipe := func(dst, src net.Conn) {
			defer p.wg.Done()
			io.Copy(dst, src)
			dst.Close()
			src.Close()
			p.mu.Lock()
			delete(p.conns, dst)
			delete(p.conns, src)
			p.mu.Unlock()
		}
		go pipe(c, up)
		go pipe(up, c)
	}
}
