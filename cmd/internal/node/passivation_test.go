package node_test

import (
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

// TestMassPassivation activates 100,000 user actors that then go idle
// together (PROTOACTOR.md, trap 4): new activations must go on meanwhile,
// none waiting over a second, and the memory must come back.
func TestMassPassivation(t *testing.T) {
	if testing.Short() {
		t.Skip("activates 100,000 actors")
	}
	const idle = 3 * time.Second
	h := newHarness(t, func(o *harnessOptions) { o.idle = idle })
	const probes = 60
	var real []int64
	for range probes {
		id, _ := h.user(person{})
		real = append(real, id)
	}
	base := heapInUse()

	const n = 100_000
	start := time.Now()
	for i := range n {
		// Identities of no user: activation alone, no database load.
		if pid := h.node.Lookup.Get(cluster.NewClusterIdentity(strconv.Itoa(1_000_000_000+i), user.Kind)); pid == nil {
			t.Fatalf("activation %d failed", i)
		}
	}
	activated := time.Since(start)
	if users, _, _ := h.node.Counts(); users != n {
		t.Fatalf("active users = %d; want %d", users, n)
	}
	peak := heapInUse()
	t.Logf("activated %d actors in %v (%.0f/s); heap %.1f MB → %.1f MB (%.2f KB per idle actor)",
		n, activated, n/activated.Seconds(), mb(base), mb(peak), float64(peak-base)/n/1024)

	// Probe while they passivate: each probe activates a real user's
	// actor and waits for its reply (a database load included).
	for time.Since(start) < idle*9/10 {
		time.Sleep(20 * time.Millisecond) // pacing the probe, not synchronising
	}
	var worst time.Duration
	for i, id := range real {
		t0 := time.Now()
		h.actor(id)
		if d := time.Since(t0); d > worst {
			worst = d
		}
		if i%10 == 0 {
			users, _, _ := h.node.Counts()
			t.Logf("t=%v active=%d probe=%v", time.Since(start).Round(time.Millisecond), users, time.Since(t0).Round(time.Microsecond))
		}
		time.Sleep(25 * time.Millisecond) // spreads the probes over the passivation
	}
	eventually(t, 30*time.Second, "the idle actors passivate", func() bool {
		users, _, _ := h.node.Counts()
		return users <= probes
	})
	passivated := time.Since(start) - idle
	after := heapInUse()
	t.Logf("passivated within %v of the idle timeout; worst activation meanwhile %v; heap after %.1f MB",
		passivated.Round(time.Millisecond), worst, mb(after))
	if worst > time.Second {
		t.Errorf("an activation during the mass passivation took %v; want under 1s", worst)
	}
	if grown := int64(after) - int64(base); grown > int64(peak-base)/5 {
		t.Errorf("heap after passivation %.1f MB, base %.1f MB, peak %.1f MB: the memory did not come back", mb(after), mb(base), mb(peak))
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }
