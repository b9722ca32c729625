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
// Ownership is checked where it matters: a node activates only grains it
// owns under its own topology, and refuses other nodes' requests for the
// rest (the caller looks again), so nodes whose views differ for a moment
// around a join or a death do not both activate a grain on request. On
// every topology change a node stops the grains it no longer owns and
// drops the PIDs it cached for grains that moved. A fenced node (its
// membership lost) serves nothing.
//
// A grain that stops is forgotten here; other nodes still cache its PID and
// find out on their next request (a dead-letter reply makes the caller
// look again), which is why messages that must arrive go by request with
// retry. It depends on protoactor-go only.
package placement

import (
	"errors"
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
// nodes ask to activate grains this node owns; activeName that of the
// actor which only says whether a grain is active here.
const (
	activatorName = "swiper-placement"
	activeName    = "swiper-placement-active"
)

const shardCount = 64

// maxCachedPerShard bounds the PID cache: 64 shards of it hold a quarter
// of a million grains' PIDs.
const maxCachedPerShard = 4096

// DefaultTimeout bounds one request to another node's placement actors: an
// activation spawns the grain and answers at once, so a second is long; a
// node that died mid-request costs that much before the caller looks
// again.
const DefaultTimeout = time.Second

// Lookup places grains on members and keeps this node's activations.
type Lookup struct {
	// Timeout bounds one request to another node's placement.
	Timeout time.Duration

	cluster   *cluster.Cluster
	self      string
	topo      atomic.Pointer[topology]
	activator *actor.PID
	active    *actor.PID
	sub       *eventstream.Subscription
	seed      maphash.Seed
	shards    [shardCount]shard      // grains active here
	cache     [shardCount]cacheShard // where grains were found, here or elsewhere
	fence     atomic.Pointer[error]
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

type cacheShard struct {
	mu sync.Mutex
	m  map[string]*actor.PID
}

var _ cluster.IdentityLookup = (*Lookup)(nil)

// New returns a Lookup; the cluster calls Setup when the member starts.
func New() *Lookup {
	l := &Lookup{Timeout: DefaultTimeout, seed: maphash.MakeSeed(), ready: make(chan struct{})}
	for i := range l.shards {
		l.shards[i].m = make(map[string]*actor.PID)
		l.cache[i].m = make(map[string]*actor.PID)
	}
	return l
}

// Setup starts the placement actors and follows the cluster's topology.
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
	var err error
	if l.activator, err = c.ActorSystem.Root.SpawnNamed(actor.PropsFromFunc(l.receive), activatorName); err != nil {
		panic("placement: " + err.Error()) // only if Setup runs twice
	}
	if l.active, err = c.ActorSystem.Root.SpawnNamed(actor.PropsFromFunc(l.receiveActive), activeName); err != nil {
		panic("placement: " + err.Error())
	}
}

// Ready is closed once the node knows a topology that includes itself.
func (l *Lookup) Ready() <-chan struct{} { return l.ready }

// Members returns the members of the last topology seen.
func (l *Lookup) Members() []*cluster.Member {
	if t := l.topo.Load(); t != nil {
		return t.members
	}
	return nil
}

// SelfInTopology reports whether the last topology seen includes this node.
func (l *Lookup) SelfInTopology() bool {
	t := l.topo.Load()
	return t != nil && t.self
}

// HasMember reports whether the member at addr is in the current topology,
// and returns a channel that is closed when the topology next changes (nil
// before the first). A caller waiting on a member's reply watches it to
// give up as soon as the member leaves.
func (l *Lookup) HasMember(addr string) (bool, <-chan struct{}) {
	t := l.topo.Load()
	if t == nil {
		return false, nil
	}
	return t.addrs[addr], t.next
}

// Fence stops this node from serving grains, for good: from now on it
// places and activates nothing, refuses other nodes' activation requests
// (they look elsewhere) and its local grains stop. A node fences itself
// when its membership is lost: the others have dropped it and placed its
// grains elsewhere, and a zombie that kept serving them would be a second
// writer (PROTOACTOR.md traps 13 and 15). Only the first reason is kept.
func (l *Lookup) Fence(reason error) {
	if reason == nil {
		reason = errors.New("placement: fenced")
	}
	if !l.fence.CompareAndSwap(nil, &reason) {
		return
	}
	for i := range l.cache {
		c := &l.cache[i]
		c.mu.Lock()
		clear(c.m)
		c.mu.Unlock()
	}
	if l.cluster != nil {
		l.cluster.Logger().Warn("placement: fenced; this node serves no grains any more", slog.Any("reason", reason))
		// Ends when every local grain has stopped, or after the bound.
		go l.StopAll(10 * time.Second)
	}
}

// Fenced returns why the node was fenced, or nil.
func (l *Lookup) Fenced() error {
	if e := l.fence.Load(); e != nil {
		return *e
	}
	return nil
}

func (l *Lookup) onTopology(ct *cluster.ClusterTopology) {
	t := newTopology(ct.Members, l.self)
	if old := l.topo.Swap(t); old != nil {
		close(old.next)
	}
	if t.self {
		l.readyOnce.Do(func() { close(l.ready) })
	}
	// Cached PIDs of grains that moved would send the next request to the
	// old owner (protoactor's own cache drops entries only for members that
	// left, PROTOACTOR.md trap 16): forget them, joins included, before the
	// grains that moved from here stop, so that this node's next requests
	// go to the new owner rather than to a grain behind its poison pill.
	for i := range l.cache {
		c := &l.cache[i]
		c.mu.Lock()
		for key, pid := range c.m {
			kind, id := splitKey(key)
			if t.owner(cluster.NewClusterIdentity(id, kind)) != pid.Address {
				delete(c.m, key)
			}
		}
		c.mu.Unlock()
	}
	// Grains whose owner is now another node stop here; the next request
	// activates them on their new owner, where they reload from the
	// database. Requests already in their mailboxes are answered first (the
	// poison pill queues behind them).
	var moved []*actor.PID
	for i := range l.shards {
		s := &l.shards[i]
		s.mu.Lock()
		for key, pid := range s.m {
			kind, id := splitKey(key)
			if t.owner(cluster.NewClusterIdentity(id, kind)) != l.self {
				moved = append(moved, pid)
			}
		}
		s.mu.Unlock()
	}
	for _, pid := range moved {
		l.cluster.ActorSystem.Root.Poison(pid)
	}
}

// Resolve returns the PID of the grain from the cache, or places it (see
// Get; a request to another node waits until deadline at most) and caches
// the answer; nil if it cannot be placed now.
func (l *Lookup) Resolve(ci *cluster.ClusterIdentity, deadline time.Time) *actor.PID {
	if l.fence.Load() != nil {
		return nil
	}
	key := ci.Kind + "/" + ci.Identity
	c := l.cacheShard(key)
	c.mu.Lock()
	pid := c.m[key]
	c.mu.Unlock()
	if pid != nil {
		return pid
	}
	if l.OwnedHere(ci) {
		// Local grains are not cached: the shard map is as cheap, and a
		// PID cached after its grain answered and stopped (an unknown
		// user's actor leaves at once) would send the next call to a grain
		// behind its poison pill, which drops it unanswered.
		return l.activate(ci)
	}
	if pid = l.get(ci, min(l.Timeout, time.Until(deadline))); pid == nil {
		return nil
	}
	c.mu.Lock()
	// Cached only if its owner has not changed meanwhile, read under the
	// lock that the purge on a topology change takes after the new
	// topology is in: a change between the placement and here would
	// otherwise leave a stale entry behind its purge.
	if t := l.topo.Load(); t != nil && t.owner(ci) == pid.Address && l.fence.Load() == nil {
		if len(c.m) >= maxCachedPerShard {
			// Entries of grains that went idle elsewhere are never told
			// of: bound the cache by starting the shard afresh.
			clear(c.m)
		}
		c.m[key] = pid
	}
	c.mu.Unlock()
	return pid
}

// Remember caches pid as where the grain is, until a topology change moves
// the grain or a caller finds it dead: tests use it to plant a stale PID.
func (l *Lookup) Remember(ci *cluster.ClusterIdentity, pid *actor.PID) {
	key := ci.Kind + "/" + ci.Identity
	c := l.cacheShard(key)
	c.mu.Lock()
	c.m[key] = pid
	c.mu.Unlock()
}

// Forget drops the cached PID of the grain if it is still pid: the caller
// found it dead (a dead letter, a timeout) and will look again.
func (l *Lookup) Forget(ci *cluster.ClusterIdentity, pid *actor.PID) {
	key := ci.Kind + "/" + ci.Identity
	l.uncache(key, pid)
}

func (l *Lookup) uncache(key string, pid *actor.PID) {
	c := l.cacheShard(key)
	c.mu.Lock()
	if cur, ok := c.m[key]; ok && cur.Equal(pid) {
		delete(c.m, key)
	}
	c.mu.Unlock()
}

// Owner returns the address of the member that owns the grain under the
// current topology, or "".
func (l *Lookup) Owner(ci *cluster.ClusterIdentity) string {
	if t := l.topo.Load(); t != nil {
		return t.owner(ci)
	}
	return ""
}

// Get returns the PID of the grain, activating it on its owner if needed,
// or nil if it cannot now (fenced, no topology yet, owner unreachable or
// refusing because it sees another owner: the caller looks again).
func (l *Lookup) Get(ci *cluster.ClusterIdentity) *actor.PID {
	return l.get(ci, l.Timeout)
}

func (l *Lookup) get(ci *cluster.ClusterIdentity, timeout time.Duration) *actor.PID {
	return l.find(ci, l.activate, activatorName, timeout)
}

// ActivePID returns the PID of the grain if it is active on its owner now,
// without activating it; nil if it is not (or its owner cannot say within
// Timeout).
func (l *Lookup) ActivePID(ci *cluster.ClusterIdentity) *actor.PID {
	return l.find(ci, l.Local, activeName, l.Timeout)
}

// find asks the grain's owner under the current topology: here, through
// local; elsewhere, its placement actor name, waiting up to timeout. Nil
// when fenced, before a topology, or when no member hosts the kind.
func (l *Lookup) find(ci *cluster.ClusterIdentity, local func(*cluster.ClusterIdentity) *actor.PID, name string, timeout time.Duration) *actor.PID {
	if l.fence.Load() != nil {
		return nil
	}
	t := l.topo.Load()
	if t == nil {
		return nil
	}
	switch owner := t.owner(ci); owner {
	case "":
		return nil
	case l.self:
		return local(ci)
	default:
		if timeout <= 0 {
			return nil
		}
		return l.ask(owner, name, ci, timeout)
	}
}

// ask sends an activation request to owner's placement actor name.
func (l *Lookup) ask(owner, name string, ci *cluster.ClusterIdentity, timeout time.Duration) *actor.PID {
	res, err := l.cluster.ActorSystem.Root.RequestFuture(actor.NewPID(owner, name),
		&cluster.ActivationRequest{ClusterIdentity: ci}, timeout).Result()
	if err != nil {
		l.cluster.Logger().Debug("placement: request to owner failed", slog.String("owner", owner), slog.String("identity", ci.Identity), slog.Any("err", err))
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
	t := l.topo.Load()
	return t != nil && t.owner(ci) == l.self
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
		for _, pid := range []*actor.PID{l.activator, l.active} {
			if pid != nil {
				l.cluster.ActorSystem.Root.Stop(pid)
			}
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
	// Each future waits up to its own 10 s; the bound is for them all.
	done := make(chan struct{})
	go func() { // ends when the last future has, within its own timeout
		for _, f := range futures {
			f.Wait()
		}
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

func (l *Lookup) receive(ctx actor.Context) {
	if req, ok := ctx.Message().(*cluster.ActivationRequest); ok {
		// Only what this node owns under its own topology: a caller whose
		// topology is behind or ahead gets a refusal and looks again,
		// rather than a second activation here (PROTOACTOR.md trap 15).
		var pid *actor.PID
		if t := l.topo.Load(); t != nil && l.fence.Load() == nil && t.owner(req.ClusterIdentity) == l.self {
			pid = l.activate(req.ClusterIdentity)
		}
		ctx.Respond(&cluster.ActivationResponse{Pid: pid, Failed: pid == nil})
	}
}

// receiveActive answers an activation request with the grain's PID if it
// is active here, activating nothing.
func (l *Lookup) receiveActive(ctx actor.Context) {
	if req, ok := ctx.Message().(*cluster.ActivationRequest); ok {
		var pid *actor.PID
		if l.fence.Load() == nil {
			pid = l.Local(req.ClusterIdentity)
		}
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
	if l.fence.Load() != nil {
		return nil
	}
	// Owned here under the topology now in force, read under the shard's
	// lock: a topology change installs the new one before it scans the
	// shards for grains that moved, so a grain spawned here either passes
	// this check against the new topology or is found by that scan.
	if t := l.topo.Load(); t == nil || t.owner(ci) != l.self {
		return nil
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
	l.uncache(key, pid)
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

func (l *Lookup) cacheShard(key string) *cacheShard {
	return &l.cache[maphash.String(l.seed, key)%shardCount]
}

func splitKey(key string) (kind, id string) {
	for i := 0; i < len(key); i++ {
		if key[i] == '/' {
			return key[:i], key[i+1:]
		}
	}
	return key, ""
}
