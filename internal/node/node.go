// Package node starts one Swiper cluster member: the actor system, the
// protoactor-go cluster with Swiper's placement, the user grain kind and
// the stores the actors use. swiperd serves HTTP on top of it; tests start
// one in-process to drive the real thing.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/cluster/clusterproviders/test"
	"github.com/asynkron/protoactor-go/remote"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/placement"
	"github.com/swiperhq/swiper/actors/session"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/actors/user"
	"github.com/swiperhq/swiper/internal/node/etcd"
	"github.com/swiperhq/swiper/transport/admin"
	"github.com/swiperhq/swiper/transport/ws"
)

// Options configure a node.
type Options struct {
	Name     string // shown by the admin API
	Social   swiper.SocialStore
	Messages swiper.MessageStore
	Accounts swiper.AccountStore
	// Metrics gets the user actors' metrics; nil registers none.
	Metrics  prometheus.Registerer
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
	// Provider is the membership provider: "single" (a one-node cluster,
	// no etcd) or "etcd" (membership in etcd, API.md "Cluster").
	Provider string
	// ClusterName names the cluster: nodes of one name on one etcd form
	// one cluster. "swiper" if empty.
	ClusterName string
	// Advertise is the host:port other nodes dial to reach this node's
	// transport (etcd only; Host and Port if empty).
	Advertise string
	// EtcdEndpoints are etcd's client endpoints (etcd only).
	EtcdEndpoints []string
	// LeaseTTL is how long the node's membership outlives a crash: its
	// etcd lease's TTL (etcd.DefaultTTL if zero).
	LeaseTTL time.Duration

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
	Uploads *upload.Manager

	provider *etcd.Provider // nil for the single provider
	roster   *Roster        // nil for the single provider
	lostOnce sync.Once
	lost     chan struct{} // closed by fence
	lostErr  error         // set before lost is closed
	stopped  atomic.Bool
	stopOnce sync.Once
}

// startLimit bounds Start with each provider: a single member starts in
// well under a second but a loaded test machine may be slow; an etcd
// member must fail soon when etcd does not answer (the provider bounds each
// call by etcd.DefaultTimeout, a join makes three).
var startLimit = map[string]time.Duration{"single": 30 * time.Second, "etcd": 10 * time.Second}

// LeaveTimeout bounds Leave's wait for the node to see itself gone.
const LeaveTimeout = 3 * time.Second

// errStopped is the reason calls fail once the node stops.
var errStopped = errors.New("node: stopped")

// Start starts the member and waits until it can place grains.
func Start(ctx context.Context, o Options) (n *Node, err error) {
	limit, ok := startLimit[o.Provider]
	if !ok {
		return nil, fmt.Errorf("cluster provider %q: want single or etcd", o.Provider)
	}
	if o.ClusterName == "" {
		o.ClusterName = "swiper"
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
	n = &Node{name: o.Name, System: system, Lookup: lookup, lost: make(chan struct{})}
	kind := user.NewKind(&user.Deps{
		Node: o.Name, Social: o.Social, Messages: o.Messages, Accounts: o.Accounts, Users: o.Users, Ranking: o.Ranking, Settings: o.Settings,
		Clock: o.Clock, Location: o.Location, Log: o.Log, Idle: o.Idle, Placement: lookup, Registerer: o.Metrics,
	})
	var provider cluster.ClusterProvider = test.NewTestProvider(test.NewInMemAgent())
	var remoteOpts []remote.ConfigOption
	if o.Provider == "etcd" {
		n.roster = NewRoster(o.Clock)
		if n.provider, err = etcd.New(etcd.Options{
			Endpoints: o.EtcdEndpoints, Node: o.Name, TTL: o.LeaseTTL,
			OnLost: n.fence, OnMembers: n.roster.Update, Log: o.Log,
		}); err != nil {
			return nil, err
		}
		provider = n.provider
		if o.Advertise != "" {
			remoteOpts = append(remoteOpts, remote.WithAdvertisedHost(o.Advertise))
		}
	}
	rcfg := remote.Configure(o.Host, o.Port, remoteOpts...)
	// A connection to a node that does not answer is tried once, not five
	// times two seconds apart with the endpoint's queue held meanwhile:
	// its messages turn into dead letters at once, and the callers'
	// own backoff and the topology decide what next (PROTOACTOR.md trap
	// 17).
	rcfg.MaxRetryCount = 1
	cfg := cluster.Configure(o.ClusterName, provider, lookup, rcfg,
		cluster.WithKinds(kind),
		cluster.WithRequestTimeout(o.CallTimeout),
	)
	// Nothing here uses protoactor's gossip: membership comes from the
	// provider, placement is ours, and topology consensus never completes
	// in this version (trap 14). Its state is mutated while the transport
	// marshals it (a data race between nodes, seen under -race), and with
	// member ids that match the actor systems' (ours do) it blocks a
	// member for good after 20 s without heartbeats. So it gossips once
	// an hour and never expires a heartbeat.
	cfg.GossipInterval = time.Hour
	cfg.HeartbeatExpiration = 100 * 365 * 24 * time.Hour
	c := cluster.New(system, cfg)
	n.Cluster = c
	// abort undoes a start that failed: the transport listens already and
	// the provider may have joined.
	abort := func() {
		if n.provider != nil {
			_ = n.provider.Shutdown(false) // the lease expires by itself
		}
		// Cluster.Shutdown panics (in Gossiper.SetState) on a member whose
		// start failed before its gossip began, as when the transport's
		// port is taken; the start's own error is the one to report, and
		// nothing was left running then.
		defer func() {
			if v := recover(); v != nil {
				o.Log.Debug("shutting down a member that did not start", "panic", v)
			}
		}()
		c.Shutdown(false)
	}
	// StartMember sets the member up, registers it with the provider and
	// then sleeps a second regardless; the member is usable as soon as it
	// sees itself in the topology, so Start waits for that instead. This
	// goroutine ends when StartMember returns (it panics when it cannot
	// listen or the provider cannot join: etcd down fails the join within
	// the provider's timeouts).
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
		abort()
		return nil, err
	case <-ctx.Done():
		abort()
		return nil, ctx.Err()
	case <-time.After(limit):
		abort()
		return nil, fmt.Errorf("cluster member did not see itself in the topology within %v", limit)
	}
	o.Log.Info("cluster member started", "address", system.Address(), "provider", o.Provider, "cluster", o.ClusterName)
	// Reads that need no actor state go straight to the store: they
	// neither queue behind swipes in a mailbox nor activate an actor. A
	// fenced or stopped node fails every call at once (503 / 1108).
	users := &user.Client{Cluster: c, Timeout: o.CallTimeout, Placement: lookup, Gate: n.gate, Reads: &user.Reads{
		Social: o.Social, Messages: o.Messages, Users: o.Users, Clock: o.Clock, Location: o.Location,
	}}
	n.Users = users
	n.Sessions = session.NewSpawner(system, session.Deps{
		Events: o.Events, Users: users, Log: o.Log,
		RegisterEvery: o.RegisterEvery, CallTimeout: o.CallTimeout, Hold: o.SessionHold,
	})
	if o.Upload != nil {
		uo := *o.Upload
		if uo.Users == nil {
			uo.Users = n.Users
		}
		if uo.Log == nil {
			uo.Log = o.Log
		}
		if n.Uploads, err = upload.Start(system, uo); err != nil {
			abort()
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

// fence stops the node serving once its membership is lost (the provider's
// OnLost, from the provider's goroutine): a member the others dropped must
// not keep activating grains they now place elsewhere (PROTOACTOR.md item
// 13). The lookup then activates nothing and stops every local grain; user
// calls fail at once; Lost tells the assembly, which exits for its
// supervisor to start the node again under a new member id.
func (n *Node) fence(err error) {
	n.lostOnce.Do(func() {
		n.Lookup.Fence(err)
		n.lostErr = err
		close(n.lost)
	})
}

// Lost is closed when the node has fenced itself: its etcd lease was lost
// or it vanished from its own topology. It is never closed with the single
// provider, nor by Leave or Stop.
func (n *Node) Lost() <-chan struct{} { return n.lost }

// Err returns why the node fenced itself, or nil.
func (n *Node) Err() error {
	select {
	case <-n.lost:
		return n.lostErr
	default:
		return nil
	}
}

// gate is the user client's Gate: calls fail at once on a fenced node and
// on one that stopped. A node that drains or has left still serves the
// calls in flight, through the members that own their users now.
func (n *Node) gate() error {
	if err := n.Lookup.Fenced(); err != nil {
		return fmt.Errorf("node fenced: %w", err)
	}
	if n.stopped.Load() {
		return errStopped
	}
	return nil
}

// Ready returns nil while the node is a serving member: not fenced, and in
// its own last topology (not yet left). /readyz fails otherwise.
func (n *Node) Ready() error {
	if err := n.Lookup.Fenced(); err != nil {
		return fmt.Errorf("cluster: fenced: %w", err)
	}
	if !n.Lookup.SelfInTopology() {
		return errors.New("cluster: this node is not a member")
	}
	return nil
}

// Leave takes the node out of the cluster on purpose (etcd only; with the
// single provider there is no one to hand over to): it revokes its
// membership, then waits, at most LeaveTimeout or ctx, until its lookup
// sees a topology without it, by when the lookup has stopped the grains
// the others own now. A fenced node has no membership left to revoke.
func (n *Node) Leave(ctx context.Context) error {
	if n.provider == nil || n.Err() != nil {
		// A fenced node's lease is gone already, and so is its place in
		// the others' topology: nothing to revoke, nothing to wait for.
		return nil
	}
	err := n.provider.Leave()
	ctx, cancel := context.WithTimeout(ctx, LeaveTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for n.Lookup.SelfInTopology() {
		select {
		case <-ctx.Done():
			return errors.Join(err, fmt.Errorf("node: still in its own topology after leaving: %w", ctx.Err()))
		case <-tick.C:
		}
	}
	return err
}

// Stop stops every local grain, then leaves the cluster (at once if Leave
// did not). Calls after the first do nothing.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		n.stopped.Store(true)
		if n.Uploads != nil {
			n.Uploads.Stop() // before the user actors it tells
		}
		n.Lookup.Shutdown()
		if n.provider != nil {
			// protoactor's non-graceful shutdown below leaves the
			// provider alone: revoke (unless Leave did) and stop its
			// goroutines here. Revoking fails on a fenced node, whose
			// lease is gone already.
			if err := n.provider.Shutdown(true); err != nil && n.Err() == nil {
				n.System.Logger().Warn("leave the cluster", "err", err)
			}
		}
		// Not graceful: a graceful leave would deregister from the
		// provider, whose topology update writes the remote's block list
		// while the gossip loop may still read it unlocked (a data race in
		// protoactor-go, BlockList.IsBlocked against Block, seen under
		// -race in tests' clean-up), and then sleep 2 s for a handover.
		// With the single provider there is no other member to tell or
		// hand over to; with etcd the provider has left above; every
		// grain has already stopped.
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

// Members lists the cluster's members as this node sees them: with etcd,
// those of the last topology and, not alive, those that left in the last
// RosterKeep; alone, itself.
func (n *Node) Members() []admin.Member {
	if n.roster != nil {
		return n.roster.List()
	}
	var out []admin.Member
	for _, m := range n.Lookup.Members() {
		name := ""
		if m.Id == n.System.ID {
			name = n.name
		}
		out = append(out, admin.Member{ID: m.Id, Node: name, Address: m.Address(), Alive: true})
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
