package upload_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
)

// slowStorage holds every Put until released or its context ends, and
// reports each Put's start and end.
type slowStorage struct {
	swiper.ObjectStore
	release  chan struct{}
	started  chan string // the key
	ended    chan error  // the context's error, nil if released
	puts     atomic.Int32
	stopOnce sync.Once
}

func newSlowStorage(s swiper.ObjectStore) *slowStorage {
	return &slowStorage{ObjectStore: s, release: make(chan struct{}), started: make(chan string, 16), ended: make(chan error, 16)}
}

func (s *slowStorage) Put(ctx context.Context, key string, data []byte) error {
	s.puts.Add(1)
	s.started <- key
	select {
	case <-s.release:
		s.ended <- nil
		return s.ObjectStore.Put(ctx, key, data)
	case <-ctx.Done():
		s.ended <- ctx.Err()
		return ctx.Err()
	}
}

func (s *slowStorage) Release() { s.stopOnce.Do(func() { close(s.release) }) }

// receive waits for a value on ch, failing t after d.
func receive[T any](t *testing.T, ch <-chan T, d time.Duration, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(d):
		t.Fatalf("no %s within %v", what, d)
		panic("unreachable")
	}
}

// testLease is short, so that tests see several, and long enough that a
// busy machine running -race renews it in time.
const testLease = 1500 * time.Millisecond

// shortLease: a lease of testLease, renewed every third of it, and a
// storage timeout far beyond it, as an upload over a slow link may take.
func shortLease(o *upload.Options) {
	o.Lease = testLease
	o.Timeout = time.Minute
}

// TestLongUploadOutlivesLeases: an upload that takes many leases keeps its
// job, renewed by its manager's heartbeat, though a second manager polls
// for due jobs all along; released, it completes in its first attempt.
func TestLongUploadOutlivesLeases(t *testing.T) {
	var slow *slowStorage
	var bucket swiper.ObjectStore
	e := newEnv(t, func(s swiper.ObjectStore) swiper.ObjectStore { bucket, slow = s, newSlowStorage(s); return slow }, shortLease)
	uid := e.users_(t, 1)[0]
	j, _ := e.job(t, uid, 1)
	e.mgr.Kick()
	receive(t, slow.started, 10*time.Second, "Put")
	// The second manager starts once the first holds the job.
	other := newSlowStorage(bucket)
	other.Release()
	e.startManager(t, other, shortLease)
	claimed, err := e.store.UploadJob(context.Background(), j.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The lease the claim took ends at NextAttemptAt; wait until the
	// heartbeat has moved it on by several leases.
	firstLease := claimed.NextAttemptAt
	deadline := time.Now().Add(30 * time.Second)
	for {
		cur, err := e.store.UploadJob(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Attempts != 1 || cur.Status != swiper.UploadUploading {
			t.Fatalf("job %s after %d attempts while its first upload runs; want uploading, 1 attempt (not claimed again)", cur.Status, cur.Attempts)
		}
		if cur.NextAttemptAt.Sub(firstLease) >= 3*testLease {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the lease ends at %v, %v past the claim's; want it renewed by at least 3 leases", cur.NextAttemptAt, cur.NextAttemptAt.Sub(firstLease))
		}
		time.Sleep(20 * time.Millisecond) // polling interval
	}
	if n := other.puts.Load(); n != 0 {
		t.Fatalf("the second manager made %d Puts; want none, the job was held", n)
	}
	slow.Release()
	done := e.waitStatus(t, j.ID, swiper.UploadDone, 20*time.Second)
	if done.Attempts != 1 {
		t.Errorf("done after %d attempts; want 1", done.Attempts)
	}
	if err := receive(t, slow.ended, time.Second, "end of the Put"); err != nil {
		t.Errorf("the long Put ended with %v; want it to run to its release", err)
	}
}

// TestTakenOverUploadIsAbandoned: another claim takes the job over (as
// one does after the lease lapsed); at its next heartbeat the first
// manager finds the lease gone, cancels its upload and records nothing —
// the job is the new claim's, not done, not failed.
func TestTakenOverUploadIsAbandoned(t *testing.T) {
	var slow *slowStorage
	e := newEnv(t, func(s swiper.ObjectStore) swiper.ObjectStore { slow = newSlowStorage(s); return slow }, shortLease)
	uid := e.users_(t, 1)[0]
	j, _ := e.job(t, uid, 1)
	e.mgr.Kick()
	receive(t, slow.started, 10*time.Second, "Put")
	// What a claim by another node does to the row.
	if _, err := e.db.Exec(`UPDATE uploads SET attempts = attempts + 1, next_attempt_at = now() + interval '1 hour' WHERE id = $1`, j.ID); err != nil {
		t.Fatal(err)
	}
	if err := receive(t, slow.ended, 10*time.Second, "cancellation of the Put"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the Put ended with %v; want it cancelled", err)
	}
	// Released now, a Put that had gone on could finish the job.
	slow.Release()
	deadline := time.Now().Add(time.Second)
	for time.Now().Before(deadline) {
		cur, err := e.store.UploadJob(context.Background(), j.ID)
		if err != nil {
			t.Fatal(err)
		}
		if cur.Status != swiper.UploadUploading || cur.Attempts != 2 || cur.LastError != "" {
			t.Fatalf("job %s, %d attempts, last error %q after its lease was lost; want it left to the other claim (uploading, 2 attempts, no error)",
				cur.Status, cur.Attempts, cur.LastError)
		}
		time.Sleep(50 * time.Millisecond) // polling interval: nothing may change
	}
	if n := slow.puts.Load(); n != 1 {
		t.Errorf("%d Puts; want the one abandoned", n)
	}
	if n := e.mgr.Active(); n != 0 {
		t.Errorf("%d uploaders running; want 0", n)
	}
}

// unrenewable is a job store whose renewals fail, as when a node is cut
// off from the database.
type unrenewable struct{ swiper.UploadStore }

func (unrenewable) RenewUploads(context.Context, []swiper.UploadClaim, time.Duration, time.Time) ([]int64, error) {
	return nil, swiper.Unavailable("test", errors.New("database unreachable"))
}

// TestUnrenewedLeaseEnds: a manager that cannot renew cancels its upload
// when the lease runs out, and another manager takes the job and
// completes it.
func TestUnrenewedLeaseEnds(t *testing.T) {
	// This one never looks for due jobs: the test decides who claims.
	e := newEnv(t, nil, func(o *upload.Options) { o.Poll = time.Hour })
	uid := e.users_(t, 1)[0]
	j, _ := e.job(t, uid, 1)
	// It claims the job as it starts, and never again.
	stuck := newSlowStorage(e.objects)
	e.startManager(t, stuck, func(o *upload.Options) {
		shortLease(o)
		o.Poll = time.Hour
		o.Store = unrenewable{e.store}
	})
	receive(t, stuck.started, 10*time.Second, "Put")
	if err := receive(t, stuck.ended, 10*time.Second, "cancellation of the Put"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the Put ended with %v; want it cancelled when the lease ran out", err)
	}
	helper := e.startManager(t, e.objects, shortLease)
	helper.Kick()
	done := e.waitStatus(t, j.ID, swiper.UploadDone, 20*time.Second)
	if done.Attempts != 2 {
		t.Errorf("done after %d attempts; want 2 (the abandoned one, then the other manager's)", done.Attempts)
	}
}
