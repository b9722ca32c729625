// Package etcd is a protoactor-go cluster.ClusterProvider that keeps the
// membership in etcd: each member puts one key under a lease it keeps alive,
// and every member lists and watches the prefix to build the topology.
//
// It replaces protoactor's own etcd provider (PROTOACTOR.md item 12): member
// ids here are the actor system's id, the lease TTL is configurable, every
// etcd call has a deadline, start fails with an error instead of panicking,
// and a lost lease is reported (Lost) instead of being renewed silently. The
// provider never rejoins by itself: after a loss the node must fence itself
// and come back under a new member id (PROTOACTOR.md item 13).
//
// It is a wiring package: it may import protoactor-go and the etcd client.
package etcd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/cluster"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
)

// nopLogger silences the etcd client's own zap logging; the provider logs
// what matters (lost lease, broken watch) through Options.Log.
func nopLogger() *zap.Logger { return zap.NewNop() }

// Defaults for Options.
const (
	DefaultTTL     = 3 * time.Second
	DefaultTimeout = 2 * time.Second
	DefaultPrefix  = "swiper"
)

// ErrLeaseLost is the reason Lost reports when the lease's keep-alive ended:
// the lease expired or was revoked, or etcd was unreachable longer than the
// TTL.
var ErrLeaseLost = errors.New("etcd lease lost")

// ErrNotMember is the reason Lost reports when this member's key vanished
// from the topology while its lease was still being kept alive.
var ErrNotMember = errors.New("member missing from its own topology")

// Options configures a Provider.
type Options struct {
	// Endpoints are etcd's client URLs.
	Endpoints []string
	// Prefix is the first path element of every key; DefaultPrefix if empty.
	Prefix string
	// Node is this node's name, stored with the member for operators.
	Node string
	// TTL is the lease's time to live: how long a member that stopped
	// without leaving stays in the topology. DefaultTTL if zero. etcd raises
	// TTLs below its minimum (1.5 s with default raft timings).
	TTL time.Duration
	// Timeout bounds each etcd call; DefaultTimeout if zero.
	Timeout time.Duration
	// OnLost, if set, is called once, from the provider's own goroutine,
	// when the membership is lost (see Provider.Lost).
	OnLost func(error)
	// OnMembers, if set, is given every member of each topology the
	// provider publishes (sorted by id), just before the cluster is, from
	// one goroutine at a time: the node names, which cluster.Member lacks.
	OnMembers func([]Member)
	// Log receives the provider's warnings; slog.Default() if nil.
	Log *slog.Logger
}

// Member is the JSON value stored under a member's key.
type Member struct {
	// ID is the actor system's id (cluster.Member.Id).
	ID string `json:"id"`
	// Node is the node's configured name.
	Node string `json:"node"`
	// Host and Port are the advertised address of the member's remote.
	Host string `json:"host"`
	Port int    `json:"port"`
	// Kinds are the grain kinds the member hosts.
	Kinds []string `json:"kinds"`
}

// Provider is one member's (or client's) view of the etcd membership. It is
// used once: started by StartMember, StartClient, Join or Observe, then
// stopped by Shutdown.
type Provider struct {
	opts Options

	mu      sync.Mutex
	client  *clientv3.Client
	cancel  context.CancelFunc // stops the goroutines
	wg      sync.WaitGroup     // the goroutines
	lease   clientv3.LeaseID
	kaStop  context.CancelFunc // stops renewing the lease
	selfKey string
	self    bool // selfKey is in the last topology
	started bool
	stopped bool
	left    bool // Leave revoked the lease on purpose

	lostOnce sync.Once
	lost     chan struct{}
	lostErr  error
}

var _ cluster.ClusterProvider = (*Provider)(nil)

// New returns a provider that has not touched etcd yet.
func New(opts Options) (*Provider, error) {
	if len(opts.Endpoints) == 0 {
		return nil, errors.New("etcd provider: no endpoints")
	}
	if opts.Prefix == "" {
		opts.Prefix = DefaultPrefix
	}
	opts.Prefix = strings.Trim(opts.Prefix, "/")
	if opts.TTL <= 0 {
		opts.TTL = DefaultTTL
	}
	if opts.TTL < time.Second {
		return nil, fmt.Errorf("etcd provider: ttl %v below one second", opts.TTL)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	return &Provider{opts: opts, lost: make(chan struct{})}, nil
}

// StartMember joins c's cluster under c.ActorSystem.ID at the actor system's
// advertised address and feeds the topology to c.MemberList.
func (p *Provider) StartMember(c *cluster.Cluster) error {
	host, port, err := c.ActorSystem.GetHostPort()
	if err != nil {
		return fmt.Errorf("etcd provider: actor system address: %w", err)
	}
	self := Member{
		ID:    c.ActorSystem.ID,
		Node:  p.opts.Node,
		Host:  host,
		Port:  port,
		Kinds: c.GetClusterKinds(),
	}
	return p.Join(c.Config.Name, self, func(m cluster.Members) { c.MemberList.UpdateClusterTopology(m) })
}

// StartClient feeds c's cluster topology to c.MemberList without joining.
func (p *Provider) StartClient(c *cluster.Cluster) error {
	return p.Observe(c.Config.Name, func(m cluster.Members) { c.MemberList.UpdateClusterTopology(m) })
}

// Join registers self in clusterName under a new lease, then lists and
// watches the cluster's members, calling update with the whole topology
// once before it returns and after every change. update is called from one
// goroutine at a time. Join fails, leaving nothing behind, if etcd does not
// answer within the options' Timeout.
func (p *Provider) Join(clusterName string, self Member, update func(cluster.Members)) error {
	if self.ID == "" {
		return errors.New("etcd provider: member without id")
	}
	return p.start(clusterName, &self, update)
}

// Observe is Join without registering: a client's view of the topology.
func (p *Provider) Observe(clusterName string, update func(cluster.Members)) error {
	return p.start(clusterName, nil, update)
}

func (p *Provider) start(clusterName string, self *Member, update func(cluster.Members)) error {
	if clusterName == "" || strings.Contains(clusterName, "/") {
		return fmt.Errorf("etcd provider: bad cluster name %q", clusterName)
	}
	p.mu.Lock()
	if p.started {
		p.mu.Unlock()
		return errors.New("etcd provider: already started")
	}
	p.started = true
	if self != nil {
		p.selfKey = "/" + p.opts.Prefix + "/" + clusterName + "/members/" + self.ID
	}
	p.mu.Unlock()

	client, err := clientv3.New(clientv3.Config{
		Endpoints:   p.opts.Endpoints,
		DialTimeout: p.opts.Timeout,
		Logger:      nopLogger(),
	})
	if err != nil {
		return fmt.Errorf("etcd provider: client: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	fail := func(err error) error {
		cancel()
		client.Close()
		return err
	}
	prefix := "/" + p.opts.Prefix + "/" + clusterName + "/members/"

	if self != nil {
		value, err := json.Marshal(self)
		if err != nil {
			return fail(err)
		}
		granted := time.Now() // the lease lives at most a TTL from here
		cctx, ccancel := context.WithTimeout(ctx, p.opts.Timeout)
		grant, err := client.Grant(cctx, int64((p.opts.TTL+time.Second-1)/time.Second))
		ccancel()
		if err != nil {
			return fail(fmt.Errorf("etcd provider: grant lease: %w", err))
		}
		p.lease = grant.ID
		// A member at this very address is a previous process of this
		// node, killed within its lease: this process holds the port now.
		// Left until its lease expires, its key's deletion would end, on
		// every other node, the connections to this address, this
		// process's included (protoactor terminates a departed member's
		// endpoint by address). So it goes now, before this one joins.
		if err := p.dropStale(ctx, client, prefix, self); err != nil {
			_ = p.revoke(client) // best effort: the lease expires anyway
			return fail(err)
		}
		cctx, ccancel = context.WithTimeout(ctx, p.opts.Timeout)
		_, err = client.Put(cctx, p.selfKey, string(value), clientv3.WithLease(grant.ID))
		ccancel()
		if err != nil {
			_ = p.revoke(client) // best effort: the lease expires anyway
			return fail(fmt.Errorf("etcd provider: put member: %w", err))
		}
		// The client's keep-alive channel closes only a second or more after
		// the lease could have expired, so the goroutine below keeps its own
		// deadline: a whole TTL after the last renewal it knew of.
		kaCtx, kaStop := context.WithCancel(ctx)
		ka, err := client.KeepAlive(kaCtx, grant.ID)
		if err != nil {
			kaStop()
			_ = p.revoke(client) // best effort: the lease expires anyway
			return fail(fmt.Errorf("etcd provider: keep alive: %w", err))
		}
		p.mu.Lock()
		p.kaStop = kaStop
		p.mu.Unlock()
		p.wg.Add(1)
		// This goroutine drains the keep-alive responses; it ends when
		// Shutdown cancels ctx, when Leave stops the renewals, or when the
		// lease is lost, which it reports and then stops renewing, so that
		// a lost member never comes back under the same id when etcd
		// returns.
		go func() {
			defer p.wg.Done()
			defer kaStop()
			p.keepAlive(kaCtx, ka, granted, time.Duration(grant.TTL)*time.Second)
		}()
	}

	members, rev, err := p.list(ctx, client, prefix)
	if err != nil {
		if self != nil {
			_ = p.revoke(client) // best effort: the lease expires anyway
		}
		cancel()
		p.wg.Wait()
		return fail(err)
	}
	p.mu.Lock()
	p.client = client
	p.cancel = cancel
	p.mu.Unlock()
	p.publish(members, update)
	p.wg.Add(1)
	// This goroutine watches the prefix and feeds every change to update;
	// it ends when Shutdown cancels ctx.
	go func() {
		defer p.wg.Done()
		p.watch(ctx, client, prefix, members, rev, update)
	}()
	return nil
}

// keepAlive follows the lease's renewals until ctx ends (Shutdown, Leave)
// or the lease is lost: the channel closed (lease revoked, expired) or no
// renewal for a whole TTL since last.
func (p *Provider) keepAlive(ctx context.Context, ka <-chan *clientv3.LeaseKeepAliveResponse, last time.Time, ttl time.Duration) {
	tick := time.NewTicker(max(ttl/20, 20*time.Millisecond))
	defer tick.Stop()
	// renewed takes a keep-alive response, reporting false when the
	// channel closed: the lease was revoked or expired.
	renewed := func(resp *clientv3.LeaseKeepAliveResponse, ok bool) bool {
		if !ok {
			if ctx.Err() == nil {
				p.reportLost(ErrLeaseLost)
			}
			return false
		}
		// The server renewed the lease a round trip ago at most; on the
		// loopback or a LAN that is close enough to now. The others see
		// the member leave no sooner than the server's expiry, so the
		// fence lands at about the same time.
		last = time.Now()
		if resp.TTL > 0 {
			ttl = time.Duration(resp.TTL) * time.Second
		}
		return true
	}
	for {
		select {
		case <-ctx.Done():
			return
		case resp, ok := <-ka:
			if !renewed(resp, ok) {
				return
			}
		case <-tick.C:
			// After a stall of the whole process, renewals may be waiting
			// beside the tick: take them first, not a loss that was not.
		drain:
			for {
				select {
				case resp, ok := <-ka:
					if !renewed(resp, ok) {
						return
					}
				default:
					break drain
				}
			}
			if time.Since(last) >= ttl {
				p.reportLost(ErrLeaseLost)
				return
			}
		}
	}
}

// dropStale deletes the keys of members other than self advertised at
// self's address.
func (p *Provider) dropStale(ctx context.Context, client *clientv3.Client, prefix string, self *Member) error {
	members, _, err := p.list(ctx, client, prefix)
	if err != nil {
		return err
	}
	for key, m := range members {
		if m.ID == self.ID || m.Host != self.Host || m.Port != self.Port {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
		_, err := client.Delete(cctx, key)
		cancel()
		if err != nil {
			return fmt.Errorf("etcd provider: drop the stale member at this address: %w", err)
		}
		p.opts.Log.Info("etcd provider: dropped a previous member at this address", "id", m.ID, "node", m.Node)
	}
	return nil
}

// list reads every member under prefix and the revision it was read at.
func (p *Provider) list(ctx context.Context, client *clientv3.Client, prefix string) (map[string]Member, int64, error) {
	cctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	defer cancel()
	resp, err := client.Get(cctx, prefix, clientv3.WithPrefix())
	if err != nil {
		return nil, 0, fmt.Errorf("etcd provider: list members: %w", err)
	}
	members := make(map[string]Member, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		var m Member
		if err := json.Unmarshal(kv.Value, &m); err != nil || m.ID == "" {
			p.opts.Log.Warn("etcd provider: bad member value", "key", string(kv.Key), "error", err)
			continue
		}
		members[string(kv.Key)] = m
	}
	return members, resp.Header.Revision, nil
}

// watch applies every change after rev to members and publishes the result.
// If the watch breaks (compaction, cancelled by the server) it lists again
// and resumes from the new revision, retrying until ctx ends.
func (p *Provider) watch(ctx context.Context, client *clientv3.Client, prefix string, members map[string]Member, rev int64, update func(cluster.Members)) {
	for ctx.Err() == nil {
		wctx, wcancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := client.Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
		for resp := range wch {
			if err := resp.Err(); err != nil {
				p.opts.Log.Warn("etcd provider: watch", "error", err)
				break
			}
			for _, ev := range resp.Events {
				key := string(ev.Kv.Key)
				switch ev.Type {
				case clientv3.EventTypePut:
					var m Member
					if err := json.Unmarshal(ev.Kv.Value, &m); err != nil || m.ID == "" {
						p.opts.Log.Warn("etcd provider: bad member value", "key", key, "error", err)
						delete(members, key)
						continue
					}
					members[key] = m
				case clientv3.EventTypeDelete:
					delete(members, key)
				}
			}
			rev = resp.Header.Revision
			p.publish(members, update)
		}
		wcancel() // a broken watch's stream is released before relisting
		// The watch ended: resynchronise from a fresh list, at most every
		// half second, until ctx ends.
		for ctx.Err() == nil {
			m, r, err := p.list(ctx, client, prefix)
			if err == nil {
				members, rev = m, r
				p.publish(members, update)
				break
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}
}

// publish hands the topology, sorted by id, to update and checks that this
// member is still in it.
func (p *Provider) publish(members map[string]Member, update func(cluster.Members)) {
	out := make(cluster.Members, 0, len(members))
	for _, m := range members {
		out = append(out, &cluster.Member{Id: m.ID, Host: m.Host, Port: int32(m.Port), Kinds: slices.Clone(m.Kinds)})
	}
	slices.SortFunc(out, func(a, b *cluster.Member) int { return strings.Compare(a.Id, b.Id) })
	p.mu.Lock()
	_, in := members[p.selfKey]
	missing := p.selfKey != "" && p.self && !in && !p.stopped && !p.left
	p.self = in
	p.mu.Unlock()
	if missing {
		p.reportLost(ErrNotMember)
	}
	if p.opts.OnMembers != nil {
		all := make([]Member, 0, len(members))
		for _, m := range members {
			m.Kinds = slices.Clone(m.Kinds)
			all = append(all, m)
		}
		slices.SortFunc(all, func(a, b Member) int { return strings.Compare(a.ID, b.ID) })
		p.opts.OnMembers(all)
	}
	update(out)
}

// Self reports whether this member is in the last topology the provider
// saw. It is false for a client and before Join.
func (p *Provider) Self() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.self
}

// Lost is closed once when the membership is lost: the lease expired or was
// revoked behind the provider's back, etcd was unreachable longer than the
// TTL, or the member's key vanished from the topology. The provider does
// not rejoin; the node must stop serving and come back under a new id.
// Neither Leave nor Shutdown closes it.
func (p *Provider) Lost() <-chan struct{} { return p.lost }

// Err returns why Lost was closed (ErrLeaseLost or ErrNotMember), or nil.
func (p *Provider) Err() error {
	select {
	case <-p.lost:
		return p.lostErr
	default:
		return nil
	}
}

func (p *Provider) reportLost(err error) {
	p.mu.Lock()
	left := p.left
	p.mu.Unlock()
	if left {
		return // a member that leaves on purpose is not lost
	}
	p.lostOnce.Do(func() {
		p.lostErr = err
		close(p.lost)
		p.opts.Log.Error("etcd provider: membership lost", "error", err)
		if p.opts.OnLost != nil {
			p.opts.OnLost(err)
		}
	})
}

// Leave takes the member out of the cluster on purpose: it stops renewing
// its lease and revokes it, which deletes the member's key at once, while
// the watch goes on feeding the topology (now without this member) to the
// cluster until Shutdown, so that the node sees itself leave and stops the
// grains others now own. A member that leaves is not lost: Lost is not
// closed for it. It waits for etcd at most the options' Timeout; if the
// revoke fails the key still goes when the lease expires, a TTL later.
// Calls after the first, and calls on a client, do nothing.
func (p *Provider) Leave() error {
	p.mu.Lock()
	if p.left || p.stopped || p.client == nil || p.lease == 0 {
		p.mu.Unlock()
		return nil
	}
	p.left = true
	client, kaStop := p.client, p.kaStop
	p.mu.Unlock()
	kaStop()
	return p.revoke(client)
}

// Shutdown leaves the cluster and stops the provider's goroutines. A
// graceful shutdown revokes the lease (unless Leave did), which deletes the
// member's key at once; otherwise the key stays until the lease expires, as
// after a crash. It waits for etcd at most the options' Timeout.
func (p *Provider) Shutdown(graceful bool) error {
	p.mu.Lock()
	if p.stopped || p.client == nil {
		p.stopped = true
		p.mu.Unlock()
		return nil
	}
	p.stopped = true
	client, cancel, left := p.client, p.cancel, p.left
	p.mu.Unlock()

	var err error
	cancel()
	p.wg.Wait()
	if graceful && p.lease != 0 && !left {
		err = p.revoke(client)
	}
	if cerr := client.Close(); cerr != nil && err == nil && !errors.Is(cerr, context.Canceled) {
		err = cerr
	}
	return err
}

// revoke deletes the lease and with it the member's key.
func (p *Provider) revoke(client *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(context.Background(), p.opts.Timeout)
	defer cancel()
	if _, err := client.Revoke(ctx, p.lease); err != nil {
		return fmt.Errorf("etcd provider: revoke lease: %w", err)
	}
	return nil
}
