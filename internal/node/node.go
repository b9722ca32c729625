// Package node starts one Swiper cluster member: the actor system, the
// protoactor-go cluster with Swiper's placement, the user grain kind and
// the stores the actors use. swiperd serves HTTP on top of it; tests start
// one in-process to drive the real thing.
package node

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/placement"
	"github.com/swiperhq/swiper/actors/session"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/actors/user"
	"github.com/swiperhq/swiper/transport/admin"
	"github.com/swiperhq/swiper/transport/ws"
)

// Options configure a node.
type Options struct {
	Name     string // shown by the admin API
	Social   swiper.SocialStore
	Users    swiper.UserStore
	Events   swiper.EventStore
	Ranking  swiper.Ranking
	Settings *swiper.LiveSettings
	Clock    swiper.Clock
	Location *time.Location
	Log      *slog.Logger

	// Host and Port are where the node's cluster transport listens; port 0
	// picks a free one.
	Host string
	Port int
	// Provider is the membership provider: "single" (a one-node cluster)
	// is the only one.
	Provider string

	// Idle is how long a user actor lives without messages.
	Idle time.Duration
	// CallTimeout bounds a call to a user actor.
	CallTimeout time.Duration
	// RegisterEvery is how often a WebSocket session registers again with
	// its user's actor; SessionHold how long a new session keeps live
	// events back for the client's resume. internal/app sets these four
	// (from the configuration and its constants of the same names): Start
	// refuses a zero one.
	RegisterEvery, SessionHold time.Duration

	// Upload, when set, starts the node's upload manager with these
	// options; Users and Log default to the node's.
	Upload *upload.Options
}

// Node is a running cluster member.
type Node struct {
	name    string
	System  *actor.ActorSystem
	Cluster *cluster.Cluster
	Lookup  *placement.Lookup
	Users   *user.Client
	// Sessions opens the session actors of this node's WebSockets.
	Sessions *session.Spawner
	// Uploads is the node's upload manager (nil without Options.Upload).
	Uploads  *upload.Manager
	stopOnce sync.Once
}

// Start starts the member and waits until it can place grains.
func Start(ctx context.Context, o Options) (n *Node, err error) {
	if o.Provider != "single" {
		return nil, fmt.Errorf("cluster provider %q: only single is supported", o.Provider)
	}
	if o.Idle <= 0 || o.CallTimeout <= 0 || o.RegisterEvery <= 0 || o.SessionHold <= 0 {
		return nil, fmt.Errorf("node: Idle (%v), CallTimeout (%v), RegisterEvery (%v) and SessionHold (%v) must be positive",
			o.Idle, o.CallTimeout, o.RegisterEvery, o.SessionHold)
	}
	// protoactor-go logs routine events (shutdown, passivation retries) at
	// ERROR and actor panics at INFO; we log what matters ourselves, so it
	// gets only its warnings and errors, tagged.
	plog := slog.New(minLevel{o.Log.Handler(), slog.LevelWarn}).With("component", "protoactor")
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return plog }))
	lookup := placement.New()
	kind := user.NewKind(&user.Deps{
		Node: o.Name, Social: o.Social, Users: o.Users, Ranking: o.Ranking, Settings: o.Settings,
		Clock: o.Clock, Location: o.Location, Log: o.Log, Idle: o.Idle, Placement: lookup,
	})
	cfg := cluster.Configure("swiper", test.NewTestProvider(test.NewInMemAgent()), lookup,
		remote.Configure(o.Host, o.Port),
		cluster.WithKinds(kind),
		cluster.WithRequestTimeout(o.CallTimeout),
	)
	c := cluster.New(system, cfg)
	// StartMember sets the member up, registers it with the provider and
	// then sleeps a second regardless; the member is usable as soon as it
	// sees itself in the topology, so Start waits for that instead. This
	// goroutine ends when StartMember returns (panics when it cannot
	// listen).
	started := make(chan error, 1)
	go func() {
		defer func() {
			if v := recover(); v != nil {
				started <- fmt.Errorf("start cluster member: %v", v)
			}
		}()
		c.StartMember()
	}()
	select {
	case <-lookup.Ready():
	case err := <-started:
		return nil, err
	case <-ctx.Done():
		c.Shutdown(false)
		return nil, ctx.Err()
	case <-time.After(30 * time.Second):
		c.Shutdown(false)
		return nil, fmt.Errorf("cluster member did not see itself in the topology within 30s")
	}
	o.Log.Info("cluster member started", "address", system.Address(), "provider", o.Provider)
	// Reads that need no actor state go straight to the store: they
	// neither queue behind swipes in a mailbox nor activate an actor.
	users := &user.Client{Cluster: c, Placement: lookup, Gate: lookup.Fenced, Timeout: o.CallTimeout, Reads: &user.Reads{
		Social: o.Social, Users: o.Users, Clock: o.Clock, Location: o.Location,
	}}
	n = &Node{
		name: o.Name, System: system, Cluster: c, Lookup: lookup, Users: users,
		Sessions: session.NewSpawner(system, session.Deps{
			Events: o.Events, Users: users, Log: o.Log,
			RegisterEvery: o.RegisterEvery, CallTimeout: o.CallTimeout, Hold: o.SessionHold,
		}),
	}
	if o.Upload != nil {
		uo := *o.Upload
		if uo.Users == nil {
			uo.Users = n.Users
		}
		if uo.Log == nil {
			uo.Log = o.Log
		}
		if n.Uploads, err = upload.Start(system, uo); err != nil {
			c.Shutdown(false)
			return nil, err
		}
	}
	return n, nil
}

// WebSockets returns what transport/ws needs of this node's sessions.
func (n *Node) WebSockets() ws.Sessions { return wsSessions{n.Sessions} }

// wsSessions adapts the session spawner to transport/ws, whose interfaces
// name its own types.
type wsSessions struct{ s *session.Spawner }

func (w wsSessions) Open(uid int64, c ws.Conn) ws.Session { return w.s.Open(uid, c) }

// Stop stops every local grain, then leaves the cluster. Calls after the
// first do nothing.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		if n.Uploads != nil {
			n.Uploads.Stop() // before the user actors it tells
		}
		n.Lookup.Shutdown()
		// Not graceful: a graceful leave would deregister from the
		// provider, whose topology update writes the remote's block list
		// while the gossip loop may still read it unlocked (a data race in
		// protoactor-go, BlockList.IsBlocked against Block, seen under
		// -race in tests' clean-up), and then sleep 2 s for a handover.
		// With the single provider there is no other member to tell or
		// hand over to, and every grain has already stopped above.
		n.Cluster.Shutdown(false)
	})
}

// StopActors stops every user actor on this node (they reload from the
// database when next asked): for operators and tests.
func (n *Node) StopActors() { n.Lookup.StopAll(10 * time.Second) }

var _ admin.Actors = (*Node)(nil)

// Node returns the node's name.
func (n *Node) Node() string { return n.name }

// Counts returns how many actors of each kind are active here.
func (n *Node) Counts() (users, sessions, uploaders int) {
	if n.Uploads != nil {
		uploaders = n.Uploads.Active()
	}
	return n.Lookup.Count(user.Kind), n.Sessions.Count(), uploaders
}

// Members lists the members of the last topology this node saw.
func (n *Node) Members() []admin.Member {
	var out []admin.Member
	for _, m := range n.Lookup.Members() {
		out = append(out, admin.Member{ID: m.Id, Address: m.Address(), Alive: true})
	}
	return out
}

// Inspect returns the state of uid's actor.
func (n *Node) Inspect(ctx context.Context, uid int64) (*swiper.ActorInfo, error) {
	return n.Users.Inspect(ctx, uid)
}

// Refresh tells uid's actor that the user changed.
func (n *Node) Refresh(ctx context.Context, uid int64) error {
	return n.Users.Refresh(ctx, uid)
}

// minLevel drops records below its level.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
