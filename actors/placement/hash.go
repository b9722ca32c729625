package placement

import (
	"hash/fnv"
	"iter"
	"slices"

	"github.com/asynkron/protoactor-go/cluster"
)

// topology is one membership as the placement sees it: the members that
// host each kind, each with its hashing seed, and whether this node is one
// of them. It never changes once built; a new membership is a new topology.
type topology struct {
	members []*cluster.Member
	byKind  map[string][]seeded
	addrs   map[string]bool // every member's address
	self    bool
	// next is closed when a newer topology replaces this one.
	next chan struct{}
}

// seeded is a member's address with the seed its scores are mixed with.
type seeded struct {
	addr string
	seed uint64
}

func newTopology(members []*cluster.Member, self string) *topology {
	t := &topology{
		members: append([]*cluster.Member(nil), members...),
		byKind:  make(map[string][]seeded),
		addrs:   make(map[string]bool, len(members)),
		next:    make(chan struct{}),
	}
	for _, m := range members {
		addr := m.Address()
		t.addrs[addr] = true
		if addr == self {
			t.self = true
		}
		s := seeded{addr: addr, seed: mix(fnv64(addr))}
		for _, k := range m.Kinds {
			t.byKind[k] = append(t.byKind[k], s)
		}
	}
	// The same members in any order give the same owners.
	for _, ms := range t.byKind {
		slices.SortFunc(ms, func(a, b seeded) int {
			switch {
			case a.addr < b.addr:
				return -1
			case a.addr > b.addr:
				return 1
			}
			return 0
		})
	}
	return t
}

// owner returns the address of the member that owns the grain, or "" if no
// member hosts its kind.
//
// It is rendezvous hashing: every member scores the identity and the
// highest score wins, so a member that joins takes 1/N of the grains from
// the others and one that leaves gives its grains out evenly. protoactor's
// own rendezvous scores with FNV-32a over address and identity bytes,
// which skews badly for addresses that differ in a digit or two (three
// loopback nodes on consecutive ports got 50/25/25 %, PROTOACTOR.md trap
// 7); here the identity's hash and the member's seed go through a 64-bit
// finaliser whose every output bit depends on every input bit, so similar
// addresses score independently (TestBalance checks the split).
func (t *topology) owner(ci *cluster.ClusterIdentity) string {
	ms := t.byKind[ci.Kind]
	switch len(ms) {
	case 0:
		return ""
	case 1:
		return ms[0].addr
	}
	h := fnv64(ci.Identity)
	best, bestScore := "", uint64(0)
	for _, m := range ms {
		if s := mix(h ^ m.seed); best == "" || s > bestScore {
			best, bestScore = m.addr, s
		}
	}
	return best
}

func fnv64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// mix is SplitMix64's finaliser (Steele, Lea and Flood, 2014).
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// Owners returns where grains go among members, as every node with that
// topology computes it: the owner's address of a grain, or "" if no
// member hosts its kind. For tests and for reckoning a placement split.
func Owners(members iter.Seq[*cluster.Member]) func(*cluster.ClusterIdentity) string {
	t := newTopology(slices.Collect(members), "")
	return t.owner
}
