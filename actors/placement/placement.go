// Package placement is Swiper's cluster.IdentityLookup: it decides which
// node owns a grain (rendezvous hashing over the members that host its
// kind) and activates grains on their owner.
//
// It replaces protoactor-go's disthash lookup, whose placement actor scans
// every grain on every termination (passivating 100k grains at once pegged
// the CPU for half a minute) and keeps grains as its children (whose PID set
// never gives memory back). Here a node's grains live in a sharded map with
// O(1) removal, are spawned from the root context, and the maps are rebuilt
// when they shrink, so memory returns after a mass passivation.
//
// A grain that stops is forgotten here; other nodes still cache its PID and
// find out on their next request (a dead-letter reply makes the cluster
// client look up again), which is why messages that must arrive go by
// request with retry. It depends on protoactor-go only.
package placement

import (
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/cluster"
	"github.com/asynkron/protoactor-go/eventstream"
)

// activatorName is the name of each node's activator actor, which other
// nodes ask to activate grains this node owns.
const activatorName = "swiper-placement"

const shardCount = 64

// Lookup places grains on members and keeps this node's activations.
type Lookup struct {
	// Timeout bounds an activation request to another node.
	Timeout time.Duration

	cluster   *cluster.Cluster
	self      string
	rdv       atomic.Pointer[cluster.Rendezvous]
	members   atomic.Pointer[[]*cluster.Member]
	activator *actor.PID
	sub       *eventstream.Subscription
	seed      maphash.Seed
	shards    [shardCount]shard
	stopOnce  sync.Once
	ready     chan struct{}
	readyOnce sync.Once
	counts    map[string]*atomic.Int64 // active grains by kind; set in Setup
}

type shard struct {
	mu   sync.Mutex
	m    map[string]*actor.PID
	peak int
}

var _ cluster.IdentityLookup = (*Lookup)(nil)

// New returns a Lookup; the cluster calls Setup when the member starts.
func New() *Lookup {
	l := &Lookup{Timeout: 3 * time.Second, seed: maphash.MakeSeed(), ready: make(chan struct{})}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*actor.PID)
	}
	return l
}

// Setup starts the activator actor and follows the cluster's topology.
func (l *Lookup) Setup(c *cluster.Cluster, kinds []string, isClient bool) {
	l.cluster = c
	l.self = c.ActorSystem.Address()
	l.counts = make(map[string]*atomic.Int64, len(kinds))
	for _, k := range kinds {
		l.counts[k] = new(atomic.Int64)
		ak := c.GetClusterKind(k)
		ak.Props = ak.Props.Clone(actor.WithReceiverMiddleware(l.forgetOnStop))
	}
	l.sub = c.ActorSystem.EventStream.Subscribe(func(ev any) {
		if t, ok := ev.(*cluster.ClusterTopology); ok {
			l.onTopology(t)
		}
	})
	if isClient {
		return
	}
	pid, err := c.ActorSystem.Root.SpawnNamed(actor.PropsFromFunc(l.receive), activatorName)
	if err != nil {
		panic("placement: " + err.Error()) // only if Setup runs twice
	}
	l.activator = pid
}

// Ready is closed once the node knows a topology that includes itself.
func (l *Lookup) Ready() <-chan struct{} { return l.ready }

// Members returns the members of the last topology seen.
func (l *Lookup) Members() []*cluster.Member {
	if m := l.members.Load(); m != nil {
		return *m
	}
	return nil
}

func (l *Lookup) onTopology(t *cluster.ClusterTopology) {
	rdv := cluster.NewRendezvous()
	rdv.UpdateMembers(t.Members)
	l.rdv.Store(rdv)
	members := append([]*cluster.Member(nil), t.Members...)
	l.members.Store(&members)
	for _, m := range t.Members {
		if m.Address() == l.self {
			l.readyOnce.Do(func() { close(l.ready) })
		}
	}
	// Grains whose owner is now another node stop here; the next request
	// activates them on their new owner, where they reload from the
	// database.
	var moved []*actor.PID
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for key, pid := range s.m {
			kind, id := splitKey(key)
			if owner := rdv.GetByClusterIdentity(cluster.NewClusterIdentity(id, kind)); owner != "" && owner != l.self {
				moved = append(moved, pid)
			}
		}
		s.mu.Unlock()
	}
	for _, pid := range moved {
		l.cluster.ActorSystem.Root.Poison(pid)
	}
}

// Get returns the PID of the grain, activating it on its owner if needed,
// or nil if it cannot now (no topology yet, owner unreachable).
func (l *Lookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	rdv := l.rdv.Load()
	if rdv == nil {
		return nil
	}
	owner := rdv.GetByClusterIdentity(ci)
	switch owner {
	case "":
		return nil
	case l.self:
		return l.activate(ci)
	}
	res, err := l.cluster.ActorSystem.Root.RequestFuture(actor.NewPID(owner, activatorName),
		&cluster.ActivationRequest{ClusterIdentity: ci}, l.Timeout).Result()
	if err != nil {
		l.cluster.Logger().Warn("placement: remote activation failed", slog.String("owner", owner), slog.String("identity", ci.Identity), slog.Any("err", err))
		return nil
	}
	if r, ok := res.(*cluster.ActivationResponse); ok && !r.Failed {
		return r.Pid
	}
	return nil
}

// RemovePid forgets an activation if it is still the one recorded.
func (l *Lookup) RemovePid(ci *cluster.ClusterIdentity, pid *actor.PID) {
	l.forget(ci.Kind+"/"+ci.Identity, pid)
}

// Count returns how many grains of kind are active on this node.
func (l *Lookup) Count(kind string) int {
	if c, ok := l.counts[kind]; ok {
		return int(c.Load())
	}
	return 0
}

// OwnedHere reports whether this node owns the grain (it would be activated
// here), as far as the last topology says.
func (l *Lookup) OwnedHere(ci *cluster.ClusterIdentity) bool {
	rdv := l.rdv.Load()
	return rdv != nil && rdv.GetByClusterIdentity(ci) == l.self
}

// Local returns the PID of an active local grain, or nil.
func (l *Lookup) Local(ci *cluster.ClusterIdentity) *actor.PID {
	key := ci.Kind + "/" + ci.Identity
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[key]
}

// Shutdown stops every local grain and waits (up to a bound) for them to
// stop. It is safe to call more than once (the cluster calls it twice).
func (l *Lookup) Shutdown() {
	l.stopOnce.Do(func() {
		if l.sub != nil {
			l.cluster.ActorSystem.EventStream.Unsubscribe(l.sub)
		}
		l.StopAll(10 * time.Second)
		if l.activator != nil {
			l.cluster.ActorSystem.Root.Stop(l.activator)
		}
	})
}

// StopAll stops every local grain and waits up to timeout for them to stop.
func (l *Lookup) StopAll(timeout time.Duration) {
	root := l.cluster.ActorSystem.Root
	var futures []*actor.Future
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for _, pid := range s.m {
			futures = append(futures, root.PoisonFuture(pid))
		}
		s.mu.Unlock()
	}
	deadline := time.Now().Add(timeout)
	for _, f := range futures {
		if time.Now().After(deadline) {
			break
		}
		f.Wait()
	}
}

func (l *Lookup) receive(ctx actor.Context) {
	if req, ok := ctx.Message().(*cluster.ActivationRequest); ok {
		pid := l.activate(req.ClusterIdentity)
		ctx.Respond(&cluster.ActivationResponse{Pid: pid, Failed: pid == nil})
	}
}

// activate returns the local grain, spawning it if it is not running.
func (l *Lookup) activate(ci *cluster.ClusterIdentity) *actor.PID {
	key := ci.Kind + "/" + ci.Identity
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if pid, ok := s.m[key]; ok {
		return pid
	}
	kind, ok := l.cluster.TryGetClusterKind(ci.Kind)
	if !ok {
		return nil
	}
	pid := l.cluster.ActorSystem.Root.SpawnPrefix(cluster.WithClusterIdentity(kind.Props, ci), key+"$")
	s.m[key] = pid
	l.counts[ci.Kind].Add(1)
	if len(s.m) > s.peak {
		s.peak = len(s.m)
	}
	return pid
}

// forgetOnStop is a receiver middleware on every kind: a grain that stops
// is removed from its shard.
func (l *Lookup) forgetOnStop(next actor.ReceiverFunc) actor.ReceiverFunc {
	return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
		next(c, env)
		if _, ok := env.Message.(*actor.Stopped); ok {
			if ci := cluster.GetClusterIdentity(c); ci != nil {
				l.forget(ci.Kind+"/"+ci.Identity, c.Self())
			}
		}
	}
}

func (l *Lookup) forget(key string, pid *actor.PID) {
	s := l.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.m[key]; !ok || !cur.Equal(pid) {
		return
	}
	delete(s.m, key)
	kind, _ := splitKey(key)
	l.counts[kind].Add(-1)
	// Go maps never shrink: after a mass passivation a shard that held
	// thousands of grains would keep their buckets. Copy it into a map of
	// the right size once it has emptied out.
	if s.peak >= 1024 && len(s.m) < s.peak/4 {
		m := make(map[string]*actor.PID, len(s.m))
		for k, v := range s.m {
			m[k] = v
		}
		s.m, s.peak = m, len(m)
	}
}

func (l *Lookup) shard(key string) *shard {
	return &l.shards[maphash.String(l.seed, key)%shardCount]
}

func splitKey(key string) (kind, id string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}
