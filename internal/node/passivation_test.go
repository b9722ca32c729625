package node_test

import (
	"fmt"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/swiperhq/swiper/actors/user"
)

// heapInUse returns the live heap after a full collection.
func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// massPassivation is what one run of the mass passivation measured.
type massPassivation struct {
	activated  time.Duration // to activate them all
	passivated time.Duration // from the first activation to none active
	worst      time.Duration // the slowest activation made meanwhile
	probes     int
	base, peak uint64 // heap before and with every actor active
}

// runMassPassivation activates n user actors that then go idle together
// (PROTOACTOR.md, trap 4) and, until none is left, keeps activating the
// actors of unknown users over the admin API: each must be answered 404,
// however long the passivation takes.
func runMassPassivation(tb testing.TB, h *harness, n int) massPassivation {
	tb.Helper()
	var m massPassivation
	m.base = heapInUse()
	start := time.Now()
	for i := range n {
		// Identities of no user: activation alone, no database load.
		if pid := h.node.Lookup.Get(cluster.NewClusterIdentity(strconv.Itoa(1_000_000_000+i), user.Kind)); pid == nil {
			tb.Fatalf("activation %d failed", i)
		}
	}
	m.activated = time.Since(start)
	m.peak = heapInUse()
	// A deadline against a hang only: the passivation itself may take as
	// long as the machine needs.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		users, _, _ := h.node.Counts()
		if users == 0 {
			break
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%d actors still active 5 minutes after the last activation", users)
		}
		t0 := time.Now()
		r := h.admin("GET", fmt.Sprintf("/admin/v1/users/%d/actor", 2_000_000_000+m.probes), nil)
		d := time.Since(t0)
		if r.Status != 404 {
			tb.Fatalf("probe %d with %d actors active: %d %s; want 404", m.probes, users, r.Status, r.Raw)
		}
		m.worst = max(m.worst, d)
		m.probes++
		time.Sleep(20 * time.Millisecond) // spreads the probes over the passivation
	}
	m.passivated = time.Since(start)
	return m
}

// TestMassPassivation: 100,000 user actors that go idle together all
// passivate, and activations made meanwhile are answered. How long they
// take and whether the memory comes back are BenchmarkMassPassivation's.
func TestMassPassivation(t *testing.T) {
	if testing.Short() {
		t.Skip("activates 100,000 actors")
	}
	// Actors activated first may passivate before the last are activated:
	// the test holds either way.
	h := newHarness(t, func(o *harnessOptions) { o.idle = 3 * time.Second })
	m := runMassPassivation(t, h, 100_000)
	t.Logf("activated in %v, none left after %v; %d activations meanwhile, the slowest %v",
		m.activated.Round(time.Millisecond), m.passivated.Round(time.Millisecond), m.probes, m.worst.Round(time.Millisecond))
}

// BenchmarkMassPassivation reports, for 100,000 user actors that go idle
// together: the slowest activation made while they passivate (the target
// is under 1 s without the race detector), how long until none is left,
// the heap per idle actor, and the heap left after the passivation as a
// share of what the actors had taken (the target: under 20%).
//
//	go test -run '^$' -bench MassPassivation -benchtime 1x ./internal/node/
func BenchmarkMassPassivation(b *testing.B) {
	const n = 100_000
	for range b.N {
		b.StopTimer()
		// Long enough for every activation to finish before the first
		// actor goes idle, so that they go together.
		h := newHarness(b, func(o *harnessOptions) { o.idle = 10 * time.Second })
		b.StartTimer()
		m := runMassPassivation(b, h, n)
		b.StopTimer()
		after := heapInUse()
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		b.ReportMetric(ms(m.worst), "worst-activation-ms")
		b.ReportMetric(m.passivated.Seconds(), "until-none-s")
		b.ReportMetric(float64(m.peak-m.base)/n/1024, "KB/idle-actor")
		b.ReportMetric(100*float64(int64(after)-int64(m.base))/float64(m.peak-m.base), "heap-kept-%")
		b.StartTimer()
	}
}
