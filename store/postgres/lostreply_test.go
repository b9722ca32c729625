package postgres_test

import (
	"bytes"
	"context"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// cutProxy forwards TCP connections to PostgreSQL. Armed, it lets the
// next statement that names swipe_batch run to its end (ReadyForQuery: the
// implicit transaction committed) and then drops the connection instead of
// passing the reply on: a commit whose reply is lost, for real.
type cutProxy struct {
	ln     net.Listener
	target string
	armed  atomic.Bool
	cuts   atomic.Int32
	wg     sync.WaitGroup
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.wg.Add(1)
	// Accepts until the listener closes at the test's end.
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.wg.Add(1)
			go func() { defer p.wg.Done(); p.serve(c) }()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// serve pipes one connection both ways; each direction ends when either
// side closes, and closing both sockets ends the other.
func (p *cutProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	defer client.Close()
	defer server.Close()
	var cut atomic.Bool // the next reply on this connection is to be dropped
	done := make(chan struct{})
	// Client to server; ends when either socket closes.
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if bytes.Contains(buf[:n], []byte("swipe_batch")) && p.armed.CompareAndSwap(true, false) {
					cut.Store(true)
				}
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 64<<10)
	var held []byte
	for {
		n, err := server.Read(buf)
		if n > 0 {
			if cut.Load() {
				held = append(held, buf[:n]...)
				// ReadyForQuery after the statement: it has committed.
				if bytes.Contains(held, []byte{'Z', 0, 0, 0, 5}) {
					p.cuts.Add(1)
					return
				}
				continue
			}
			if _, werr := client.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	client.Close()
	<-done
}

// TestSwipeCommitReplyLostForReal: the connection drops after swipe_batch
// committed and before its reply arrives. The store tries the batch again
// on a new connection, finds its swipe stored and answers as the lost
// reply would have: matched, with the seqs of the one pair of events
// (issue 10, defect 11). Before, database/sql itself re-ran the statement
// on a new connection (lib/pq reports the drop as driver.ErrBadConn), which
// found the swipe stored and answered already_swiped.
func TestSwipeCommitReplyLostForReal(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	p := newCutProxy(t, u.Host)
	u.Host = p.ln.Addr().String()
	st := openStores(t, pgtest.MustOpen(t, u.String()), postgres.WithFlushers(1))
	db, s := st.db, st.social
	ids := addUsers(t, db, 2)
	a, b := ids[0], ids[1]
	mustSwipe(t, s, b, a, swiper.Like, base)

	p.armed.Store(true)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := s.Swipe(ctx, swiper.Swipe{UID: a, SID: b, Mark: swiper.Like, At: base.Add(time.Second)})
	if p.cuts.Load() != 1 {
		t.Fatalf("the proxy cut %d replies; want 1", p.cuts.Load())
	}
	if err != nil {
		t.Fatalf("swipe whose commit reply was lost: %v; want its outcome", err)
	}
	ea, eb := matchEvents(t, db, a, b), matchEvents(t, db, b, a)
	if len(ea) != 1 || len(eb) != 1 {
		t.Fatalf("match events %v, %v; want one each", ea, eb)
	}
	if !out.Matched || out.Seq != ea[0] || out.TheirSeq != eb[0] || out.Them == nil || out.Them.ID != b {
		t.Errorf("outcome %+v; want matched with seqs %d, %d and b", out, ea[0], eb[0])
	}
}
