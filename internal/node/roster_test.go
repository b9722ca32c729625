package node_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/node"
	"github.com/swiperhq/swiper/internal/node/etcd"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/transport/admin"
)

// TestRoster: members that leave stay listed, not alive, for RosterKeep;
// one that comes back under the same id is alive again.
func TestRoster(t *testing.T) {
	clock := testkit.NewClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	r := node.NewRoster(clock)
	a := etcd.Member{ID: "id-a", Node: "node1", Host: "127.0.0.1", Port: 7101}
	b := etcd.Member{ID: "id-b", Node: "node2", Host: "127.0.0.1", Port: 7102}
	c := etcd.Member{ID: "id-c", Node: "node3", Host: "::1", Port: 7103}
	live := func(m etcd.Member, alive bool) admin.Member {
		addr := m.Host + ":" + strconv.Itoa(m.Port)
		if m.Host == "::1" {
			addr = "[::1]:" + strconv.Itoa(m.Port)
		}
		return admin.Member{ID: m.ID, Node: m.Node, Address: addr, Alive: alive}
	}
	check := func(step string, want ...admin.Member) {
		t.Helper()
		got := r.List()
		if len(got) != len(want) {
			t.Fatalf("%s: List() = %+v; want %+v", step, got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("%s: List() = %+v; want %+v", step, got, want)
			}
		}
	}
	r.Update([]etcd.Member{a, b, c})
	check("three", live(a, true), live(b, true), live(c, true))
	r.Update([]etcd.Member{a, c})
	check("b left", live(a, true), live(c, true), live(b, false))
	clock.Add(node.RosterKeep - time.Second)
	r.Update([]etcd.Member{c})
	check("a left too", live(c, true), live(a, false), live(b, false))
	clock.Add(time.Second)
	check("b forgotten", live(c, true), live(a, false))
	r.Update([]etcd.Member{c, a})
	check("a back", live(a, true), live(c, true))
	clock.Add(2 * node.RosterKeep)
	r.Update([]etcd.Member{a, c})
	check("nothing left long ago", live(a, true), live(c, true))
}
