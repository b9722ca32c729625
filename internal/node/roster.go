package node

import (
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/node/etcd"
	"github.com/swiperhq/swiper/transport/admin"
)

// RosterKeep is how long GET /admin/v1/cluster still lists a member that
// left, as not alive.
const RosterKeep = 10 * time.Minute

// Roster is the cluster's membership as operators see it: the members of
// the etcd provider's last topology, alive, and those that left within
// RosterKeep, not alive. It is safe for concurrent use.
type Roster struct {
	clock swiper.Clock

	mu      sync.Mutex
	members map[string]rosterEntry // by member id
}

type rosterEntry struct {
	m    etcd.Member
	left time.Time // zero while in the topology
}

// NewRoster returns an empty roster whose departures are timed by clock.
func NewRoster(clock swiper.Clock) *Roster {
	return &Roster{clock: clock, members: make(map[string]rosterEntry)}
}

// Update records a whole topology (etcd.Options.OnMembers): members not in
// it are marked as left now, unless they were already.
func (r *Roster) Update(ms []etcd.Member) {
	now := r.clock.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	in := make(map[string]bool, len(ms))
	for _, m := range ms {
		in[m.ID] = true
		r.members[m.ID] = rosterEntry{m: m}
	}
	for id, e := range r.members {
		switch {
		case in[id]:
		case e.left.IsZero():
			e.left = now
			r.members[id] = e
		case now.Sub(e.left) >= RosterKeep:
			delete(r.members, id)
		}
	}
}

// List returns the members, alive first, each group by node name and id.
func (r *Roster) List() []admin.Member {
	now := r.clock.Now()
	r.mu.Lock()
	out := make([]admin.Member, 0, len(r.members))
	for _, e := range r.members {
		if !e.left.IsZero() && now.Sub(e.left) >= RosterKeep {
			continue
		}
		out = append(out, admin.Member{
			ID: e.m.ID, Node: e.m.Node, Address: net.JoinHostPort(e.m.Host, strconv.Itoa(e.m.Port)), Alive: e.left.IsZero(),
		})
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b admin.Member) int {
		if a.Alive != b.Alive {
			if a.Alive {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Node, b.Node); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out
}
