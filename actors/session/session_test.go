package session_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/session"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// slowUsers is a user-actor client whose registrations wait until let
// through, counting how many are under way at once.
type slowUsers struct {
	now, most atomic.Int64
	done      atomic.Int64 // first registrations of a user
	let       chan struct{}
	actor     *actor.PID // stands for every user's actor
	seen      sync.Map
	inflight  sync.Map // users whose registration has begun
}

func (u *slowUsers) Register(ctx context.Context, uid int64, s *actor.PID) (*actor.PID, error) {
	u.inflight.Store(uid, true)
	n := u.now.Add(1)
	defer u.now.Add(-1)
	for {
		m := u.most.Load()
		if n <= m || u.most.CompareAndSwap(m, n) {
			break
		}
	}
	select {
	case <-u.let:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if _, again := u.seen.LoadOrStore(uid, true); !again {
		u.done.Add(1)
	}
	return u.actor, nil
}

// conn is a connection that takes events and remembers a close.
type conn struct {
	mu     sync.Mutex
	events []swiper.Event
	code   int
}

func (c *conn) Push(e swiper.Event, live bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.events = append(c.events, e)
	return len(c.events)
}

func (c *conn) Queued() int { return 0 }

func (c *conn) Close(code int, reason string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.code = code
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond) // polling interval, not synchronisation
	}
}

// TestStartGate: sessions opened together start a few at a time; those
// closed while waiting give up their turn; every other one starts.
func TestStartGate(t *testing.T) {
	db := pgtest.MustOpenDB(t)
	system := actor.NewActorSystem()
	t.Cleanup(system.Shutdown) // before the database closes
	users := &slowUsers{let: make(chan struct{}),
		actor: system.Root.Spawn(actor.PropsFromFunc(func(actor.Context) {}))}
	const limit, n, closed = 4, 60, 20
	sp := session.NewSpawner(system, session.Deps{
		Events: postgres.NewEventStore(db), Users: users, Starting: limit,
		CallTimeout: time.Minute, RegisterEvery: time.Hour, Hold: 500 * time.Millisecond,
	})
	handles := make([]*session.Handle, n)
	for i := range handles {
		handles[i] = sp.Open(int64(i+1), &conn{})
	}
	waitFor(t, "the first sessions register", func() bool { return users.now.Load() == limit })
	// Some of those still waiting go away.
	gone := 0
	for i, h := range handles {
		if _, started := users.inflight.Load(int64(i + 1)); !started && gone < closed {
			h.Closed()
			gone++
		}
	}
	waitFor(t, "the closed sessions stop", func() bool { return sp.Count() == n-closed })
	close(users.let)
	waitFor(t, "every open session registers", func() bool { return users.done.Load() == n-closed })
	if m := users.most.Load(); m != limit {
		t.Errorf("at most %d sessions started at once; want %d", m, limit)
	}
	// The gate has all its places back: as many start at once again.
	users.let = make(chan struct{})
	users.most.Store(0)
	more := make([]*session.Handle, 2*limit)
	for i := range more {
		more[i] = sp.Open(int64(1000+i), &conn{})
	}
	waitFor(t, "new sessions start", func() bool { return users.now.Load() == limit })
	close(users.let)
	waitFor(t, "every new session registers", func() bool { return users.done.Load() == n-closed+2*limit })
}

// TestNewSpawnerRefusesZeroKnobs: the knobs the assembly sets have no
// default here, so a zero one is a wiring mistake, refused at once.
func TestNewSpawnerRefusesZeroKnobs(t *testing.T) {
	full := session.Deps{RegisterEvery: time.Hour, CallTimeout: time.Second, Hold: time.Second}
	tests := []struct {
		name string
		zero func(*session.Deps)
	}{
		{"RegisterEvery", func(d *session.Deps) { d.RegisterEvery = 0 }},
		{"CallTimeout", func(d *session.Deps) { d.CallTimeout = 0 }},
		{"Hold", func(d *session.Deps) { d.Hold = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := full
			tt.zero(&d)
			defer func() {
				if recover() == nil {
					t.Errorf("NewSpawner with a zero %s did not panic", tt.name)
				}
			}()
			session.NewSpawner(nil, d)
		})
	}
}
