package postgres_test

import (
	"context"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

// TestDeleteUserQueuesObjectDeletes: an account with uploads in every
// state leaves a delete job per key (none for another user's), each due
// now, or when a put of its key in flight loses its lease; the put jobs
// go with the account. A delete job runs as an upload does, records no
// event and sets no avatar, and fails for good without telling anyone.
func TestDeleteUserQueuesObjectDeletes(t *testing.T) {
	now := base.Add(10 * time.Second)
	st := newStores(t, postgres.WithClock(clockAt(now)))
	ctx := context.Background()
	ids := addUsers(t, st.db, 2)
	uid, other := ids[0], ids[1]
	s := st.uploads

	done := mustCreate(t, s, uid, "done", base)
	if c, _ := s.ClaimUploads(ctx, 1, time.Minute, base); len(c) != 1 {
		t.Fatal("claim the first job")
	}
	if ok, err := s.CompleteUpload(ctx, done.ID, 1, "https://cdn/done.jpg", base); !ok || err != nil {
		t.Fatalf("complete: %v %v", ok, err)
	}
	busy := mustCreate(t, s, uid, "busy", base)
	claimed, _ := s.ClaimUploads(ctx, 1, time.Minute, base.Add(time.Second)) // held until base+61s
	if len(claimed) != 1 || claimed[0].Job.ID != busy.ID {
		t.Fatalf("claimed %+v; want the busy job", claimed)
	}
	mustCreate(t, s, uid, "pending", now)
	mustCreate(t, s, uid, "busy", now) // the same image again: one key
	theirs := mustCreate(t, s, other, "theirs", base)

	out, err := st.social.DeleteUser(ctx, uid)
	if err != nil {
		t.Fatal(err)
	}
	if out.Objects != 3 {
		t.Errorf("Objects = %d; want 3 keys", out.Objects)
	}
	type row struct {
		Key  string    `db:"key"`
		Kind string    `db:"kind"`
		Due  time.Time `db:"next_attempt_at"`
	}
	var rows []row
	if err := st.db.Select(&rows, `SELECT key, kind, next_attempt_at FROM uploads WHERE uid = $1 ORDER BY key`, uid); err != nil {
		t.Fatal(err)
	}
	want := map[string]time.Time{
		swiper.AvatarKey(uid, "busy"):    base.Add(61*time.Second + 2*time.Minute),
		swiper.AvatarKey(uid, "done"):    now,
		swiper.AvatarKey(uid, "pending"): now,
	}
	if len(rows) != len(want) {
		t.Fatalf("jobs left of the user: %+v; want a delete job per key", rows)
	}
	for _, r := range rows {
		if r.Kind != "delete" || !r.Due.Equal(want[r.Key]) {
			t.Errorf("job %+v; want a delete job due at %v", r, want[r.Key])
		}
	}
	if j, err := s.UploadJob(ctx, theirs.ID); err != nil || j.Kind != swiper.UploadPut {
		t.Errorf("the other user's job: %+v, %v", j, err)
	}
	// The put in flight records nothing: its job is gone.
	if ok, err := s.CompleteUpload(ctx, busy.ID, 1, "https://cdn/busy.jpg", now); ok || err != nil {
		t.Errorf("completing the deleted user's put: %v, %v; want false", ok, err)
	}
	if _, err := s.CreateUpload(ctx, uid, swiper.AvatarKey(uid, "late"), []byte("x"), now); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("an upload for the deleted user: %v; want ENotFound", err)
	}

	// The delete jobs run: two due now, the busy key's after its lease
	// (and the other user's put, due too).
	claimedNow, err := s.ClaimUploads(ctx, 10, time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	var jobs []swiper.ClaimedUpload
	for _, c := range claimedNow {
		if c.Job.UID == uid {
			jobs = append(jobs, c)
			if c.Job.Kind != swiper.UploadDelete || c.Data != nil {
				t.Errorf("claimed %+v; want a delete job with no bytes", c.Job)
			}
		}
	}
	if len(jobs) != 2 {
		t.Fatalf("claimed %d delete jobs now; want 2", len(jobs))
	}
	if ok, err := s.CompleteUpload(ctx, jobs[0].Job.ID, 1, "", now); !ok || err != nil {
		t.Errorf("complete a delete job: %v, %v", ok, err)
	}
	if ok, err := s.FailUpload(ctx, jobs[1].Job.ID, 1, "cos: 500", now, true, now); !ok || err != nil {
		t.Errorf("fail a delete job for good: %v, %v", ok, err)
	}
	if j, _ := s.UploadJob(ctx, jobs[1].Job.ID); j.Status != swiper.UploadFailed {
		t.Errorf("the failed delete job: %+v; want failed, for an operator", j)
	}
	if n := countRows(t, st.db, `SELECT count(*) FROM events`); n != 0 {
		t.Errorf("%d events; a delete job tells no one", n)
	}
	if _, err := st.social.DeleteUser(ctx, uid); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("deleting again: %v; want ENotFound", err)
	}
}
