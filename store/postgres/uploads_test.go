package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

func newUploads(t *testing.T) (*postgres.UploadStore, *stores, int64) {
	t.Helper()
	st := newStores(t)
	return st.uploads, st, addUsers(t, st.db, 1)[0]
}

func mustCreate(t *testing.T, s *postgres.UploadStore, uid int64, sha string, at time.Time) *swiper.UploadJob {
	t.Helper()
	j, err := s.CreateUpload(context.Background(), uid, swiper.AvatarKey(uid, sha), []byte("jpeg:"+sha), at)
	if err != nil {
		t.Fatalf("CreateUpload: %v", err)
	}
	return j
}

func TestUploadLifecycle(t *testing.T) {
	s, st, uid := newUploads(t)
	db, es := st.db, st.events
	ctx := context.Background()
	j := mustCreate(t, s, uid, "aaa", base)
	if j.Status != swiper.UploadPending || j.Attempts != 0 || j.UID != uid || j.Key != swiper.AvatarKey(uid, "aaa") {
		t.Fatalf("created %+v; want pending, 0 attempts, uid %d", j, uid)
	}

	if got, _ := s.ClaimUploads(ctx, 10, time.Minute, base.Add(-time.Second)); len(got) != 0 {
		t.Fatalf("claimed %d jobs before they were due; want 0", len(got))
	}
	got, err := s.ClaimUploads(ctx, 10, time.Minute, base)
	if err != nil || len(got) != 1 {
		t.Fatalf("ClaimUploads = %d jobs, %v; want 1", len(got), err)
	}
	c := got[0]
	if c.Job.Status != swiper.UploadUploading || c.Job.Attempts != 1 || string(c.Data) != "jpeg:aaa" || !c.Job.NextAttemptAt.Equal(base.Add(time.Minute)) {
		t.Fatalf("claimed %+v with %q; want uploading, attempt 1, the bytes, due at the lease's end", c.Job, c.Data)
	}
	// Held under its lease: nobody else gets it.
	if again, _ := s.ClaimUploads(ctx, 10, time.Minute, base.Add(59*time.Second)); len(again) != 0 {
		t.Fatalf("claimed a leased job again: %+v", again)
	}

	// A failed attempt, retried later.
	if ok, err := s.FailUpload(ctx, j.ID, 1, "storage: 500", base.Add(2*time.Second), false, base.Add(time.Second)); !ok || err != nil {
		t.Fatalf("FailUpload = %v, %v; want true", ok, err)
	}
	j2, _ := s.UploadJob(ctx, j.ID)
	if j2.Status != swiper.UploadPending || j2.LastError != "storage: 500" || !j2.NextAttemptAt.Equal(base.Add(2*time.Second)) {
		t.Fatalf("after a failure: %+v; want pending, its error, due at the backoff", j2)
	}
	got, _ = s.ClaimUploads(ctx, 10, time.Minute, base.Add(2*time.Second))
	if len(got) != 1 || got[0].Job.Attempts != 2 {
		t.Fatalf("second claim: %+v; want the job at attempt 2", got)
	}
	// A stale attempt's outcome is ignored.
	if ok, _ := s.CompleteUpload(ctx, j.ID, 1, "http://x/stale", base.Add(3*time.Second)); ok {
		t.Error("CompleteUpload by attempt 1 after attempt 2's claim = true; want false")
	}
	url := "http://cdn/" + j.Key
	if ok, err := s.CompleteUpload(ctx, j.ID, 2, url, base.Add(3*time.Second)); !ok || err != nil {
		t.Fatalf("CompleteUpload = %v, %v; want true", ok, err)
	}
	j3, _ := s.UploadJob(ctx, j.ID)
	if j3.Status != swiper.UploadDone || j3.URL != url || j3.Attempts != 2 {
		t.Fatalf("done job %+v; want done at %s", j3, url)
	}
	if n := countRows(t, db, `SELECT count(*) FROM uploads WHERE id = $1 AND data IS NOT NULL`, j.ID); n != 0 {
		t.Error("a done job keeps its bytes; want them dropped")
	}
	var avatar string
	db.Get(&avatar, `SELECT avatar_url FROM users WHERE id = $1`, uid)
	if avatar != url {
		t.Errorf("avatar_url = %q; want %q", avatar, url)
	}
	evs, _ := es.Events(ctx, uid, 0, 10)
	if len(evs) != 1 || evs[0].Type != swiper.EventAvatarReady || evs[0].Subject != j.ID || evs[0].Detail != url {
		t.Errorf("events %+v; want one avatar.ready for job %d at %s", evs, j.ID, url)
	}
	if ok, _ := s.CompleteUpload(ctx, j.ID, 2, url, base.Add(4*time.Second)); ok {
		t.Error("completing a done job again = true; want false (one event per job)")
	}
}

func TestUploadLeaseExpires(t *testing.T) {
	s, _, uid := newUploads(t)
	ctx := context.Background()
	j := mustCreate(t, s, uid, "bbb", base)
	if got, _ := s.ClaimUploads(ctx, 1, 30*time.Second, base); len(got) != 1 {
		t.Fatal("first claim got nothing")
	}
	// The claimer died: after the lease the job is due again.
	got, _ := s.ClaimUploads(ctx, 1, 30*time.Second, base.Add(30*time.Second))
	if len(got) != 1 || got[0].Job.ID != j.ID || got[0].Job.Attempts != 2 {
		t.Fatalf("claim after the lease: %+v; want job %d at attempt 2", got, j.ID)
	}
}

// TestRenewUploads: one renewal extends the leases its claims still hold
// and leaves out a job another claim took over and a finished one, so a
// renewed job is not due again at the old lease's end.
func TestRenewUploads(t *testing.T) {
	s, _, uid := newUploads(t)
	ctx := context.Background()
	held := mustCreate(t, s, uid, "r1", base)
	taken := mustCreate(t, s, uid, "r2", base)
	finished := mustCreate(t, s, uid, "r3", base)
	const lease = 20 * time.Second
	if got, err := s.ClaimUploads(ctx, 3, lease, base); err != nil || len(got) != 3 {
		t.Fatalf("ClaimUploads = %d jobs, %v; want 3", len(got), err)
	}
	if ok, err := s.CompleteUpload(ctx, finished.ID, 1, "https://cdn.example/r3", base); !ok || err != nil {
		t.Fatalf("CompleteUpload = %v, %v", ok, err)
	}
	// taken's lease lapses unrenewed and another node claims it; held is
	// renewed by its holder just before its lease ends.
	renewAt := base.Add(lease - time.Second)
	got, err := s.RenewUploads(ctx, []swiper.UploadClaim{{ID: held.ID, Attempt: 1}}, lease, renewAt)
	if err != nil || len(got) != 1 || got[0] != held.ID {
		t.Fatalf("RenewUploads(held) = %v, %v; want [%d]", got, err, held.ID)
	}
	reclaimed, err := s.ClaimUploads(ctx, 3, lease, base.Add(lease))
	if err != nil || len(reclaimed) != 1 || reclaimed[0].Job.ID != taken.ID || reclaimed[0].Job.Attempts != 2 {
		t.Fatalf("claim at the old leases' end = %+v, %v; want only job %d, attempt 2", reclaimed, err, taken.ID)
	}
	got, err = s.RenewUploads(ctx, []swiper.UploadClaim{{ID: held.ID, Attempt: 1}, {ID: taken.ID, Attempt: 1}, {ID: finished.ID, Attempt: 1}}, lease, base.Add(lease+time.Second))
	if err != nil || len(got) != 1 || got[0] != held.ID {
		t.Fatalf("RenewUploads(all three, first claims) = %v, %v; want only [%d]", got, err, held.ID)
	}
	j, err := s.UploadJob(ctx, held.ID)
	if want := base.Add(2*lease + time.Second); err != nil || !j.NextAttemptAt.Equal(want.UTC()) || j.Attempts != 1 {
		t.Fatalf("renewed job: lease ends %v, %d attempts, %v; want %v, 1 attempt", j.NextAttemptAt, j.Attempts, err, want)
	}
	if got, err := s.RenewUploads(ctx, nil, lease, base); err != nil || len(got) != 0 {
		t.Fatalf("RenewUploads(nothing) = %v, %v; want nothing", got, err)
	}
}

func TestUploadFailsForGoodAndRetries(t *testing.T) {
	s, st, uid := newUploads(t)
	es := st.events
	ctx := context.Background()
	j := mustCreate(t, s, uid, "ccc", base)
	s.ClaimUploads(ctx, 1, time.Minute, base)
	if ok, err := s.FailUpload(ctx, j.ID, 1, "storage down", base, true, base); !ok || err != nil {
		t.Fatalf("final FailUpload = %v, %v", ok, err)
	}
	failed, err := s.Uploads(ctx, swiper.UploadFailed, 100)
	if err != nil || len(failed) != 1 || failed[0].ID != j.ID || failed[0].LastError != "storage down" {
		t.Fatalf("Uploads(failed) = %+v, %v; want job %d with its error", failed, err, j.ID)
	}
	evs, _ := es.Events(ctx, uid, 0, 10)
	if len(evs) != 1 || evs[0].Type != swiper.EventAvatarFailed || evs[0].Detail != swiper.UploadFailedMessage {
		t.Errorf("events %+v; want one avatar.failed with the user's message", evs)
	}
	counts, _ := s.UploadCounts(ctx)
	if counts[swiper.UploadFailed] != 1 || counts[swiper.UploadPending] != 0 {
		t.Errorf("UploadCounts = %v; want 1 failed", counts)
	}
	if got, _ := s.ClaimUploads(ctx, 1, time.Minute, base.Add(time.Hour)); len(got) != 0 {
		t.Fatal("a failed job was claimed")
	}

	r, err := s.RetryUpload(ctx, j.ID, base.Add(time.Hour))
	if err != nil || r.Status != swiper.UploadPending || r.Attempts != 0 {
		t.Fatalf("RetryUpload = %+v, %v; want pending with attempts reset", r, err)
	}
	got, _ := s.ClaimUploads(ctx, 1, time.Minute, base.Add(time.Hour))
	if len(got) != 1 || string(got[0].Data) != "jpeg:ccc" {
		t.Fatalf("claim after retry: %+v; want the job with its bytes", got)
	}
	// Retrying a job that is not failed changes nothing.
	r, err = s.RetryUpload(ctx, j.ID, base.Add(2*time.Hour))
	if err != nil || r.Status != swiper.UploadUploading || r.Attempts != 1 {
		t.Errorf("RetryUpload of an uploading job = %+v, %v; want it unchanged", r, err)
	}
	if _, err := s.RetryUpload(ctx, j.ID+1000, base); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("RetryUpload(unknown) = %v; want not_found", err)
	}
	if _, err := s.UploadJob(ctx, j.ID+1000); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("UploadJob(unknown) = %v; want not_found", err)
	}
}

// TestNewestUploadWins: when two uploads of one user finish out of order,
// the avatar is the newer one's.
func TestNewestUploadWins(t *testing.T) {
	s, st, uid := newUploads(t)
	db := st.db
	ctx := context.Background()
	old := mustCreate(t, s, uid, "old", base)
	nw := mustCreate(t, s, uid, "new", base.Add(time.Second))
	s.ClaimUploads(ctx, 2, time.Minute, base.Add(time.Second))
	if ok, _ := s.CompleteUpload(ctx, nw.ID, 1, "u-new", base.Add(2*time.Second)); !ok {
		t.Fatal("complete new")
	}
	if ok, _ := s.CompleteUpload(ctx, old.ID, 1, "u-old", base.Add(3*time.Second)); !ok {
		t.Fatal("complete old")
	}
	var avatar string
	db.Get(&avatar, `SELECT avatar_url FROM users WHERE id = $1`, uid)
	if avatar != "u-new" {
		t.Errorf("avatar_url = %q; want u-new", avatar)
	}
}

// TestConcurrentClaimsNeverShare: claimers racing on one table each get
// their own jobs (FOR UPDATE SKIP LOCKED).
func TestConcurrentClaimsNeverShare(t *testing.T) {
	s, _, uid := newUploads(t)
	ctx := context.Background()
	const jobs = 200
	for i := range jobs {
		mustCreate(t, s, uid, fmt.Sprint(i), base)
	}
	var (
		mu   sync.Mutex
		seen = map[int64]int{}
		wg   sync.WaitGroup
	)
	for range 8 {
		wg.Add(1)
		// Each claimer ends when no job is left; wg.Wait below waits for it.
		go func() {
			defer wg.Done()
			for {
				got, err := s.ClaimUploads(ctx, 7, time.Minute, base)
				if err != nil {
					t.Error(err)
					return
				}
				if len(got) == 0 {
					return
				}
				mu.Lock()
				for _, c := range got {
					seen[c.Job.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != jobs {
		t.Errorf("claimed %d distinct jobs; want %d", len(seen), jobs)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("job %d claimed %d times; want once", id, n)
		}
	}
}

func TestCreateUploadUnknownUser(t *testing.T) {
	s, st, _ := newUploads(t)
	db := st.db
	if _, err := s.CreateUpload(context.Background(), 1<<40, "avatars/x/y.jpg", []byte("x"), base); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("CreateUpload(unknown user) = %v; want not_found", err)
	}
	if n := countRows(t, db, `SELECT count(*) FROM uploads`); n != 0 {
		t.Errorf("%d jobs; want 0", n)
	}
}
