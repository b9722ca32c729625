package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"net/http"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/cos/costest"
	"github.com/swiperhq/swiper/store/postgres"
)

// TestUploadSurvivesSIGKILL runs two swiperd nodes on one database and
// kills one while it is uploading avatars (the fake bucket holds its PUTs
// open, far below the storage timeout). While the first node lives, its
// heartbeat renews the jobs' leases past several leases and the second
// node, polling all along, leaves them alone; once it is killed, the
// second node claims every job again when its lease ends and completes
// it, each under the one key its content names, and nothing else is in
// the bucket.
func TestUploadSurvivesSIGKILL(t *testing.T) {
	ctx := context.Background()
	dbURL, db, prefix, tokens := stores(t)
	users := postgres.NewUserStore(db)

	fake := costest.New(t)
	fake.SetFault(func(int) string { return costest.Hang })
	const lease = 6 * time.Second
	env := []string{
		"SWIPER_STORAGE=cos", "SWIPER_COS_BUCKET_URL=" + fake.URL, "SWIPER_COS_SECRET_ID=id", "SWIPER_COS_SECRET_KEY=key",
		"SWIPER_CDN_BASE_URL=https://cdn.example", "SWIPER_STORAGE_TIMEOUT=2m", "SWIPER_UPLOAD_LEASE=" + lease.String(), "SWIPER_UPLOAD_BACKOFF=10ms",
	}
	n := startNode(t, dbURL, prefix, env...)

	const jobs = 3
	var ids []int64
	for i := range jobs {
		u, _, err := users.LoginPhone(ctx, fmt.Sprintf("+861370000000%d", i))
		if err != nil {
			t.Fatal(err)
		}
		token, err := tokens.NewToken(ctx, u.ID)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, postAvatar(t, n.client, token, i))
	}
	testkit.Eventually(t, 20*time.Second, "every job's PUT hanging in the bucket", func() bool { return fake.Hanging() == jobs })
	type held struct {
		Attempts int       `db:"attempts"`
		Status   string    `db:"status"`
		Until    time.Time `db:"next_attempt_at"`
	}
	leases := func() []held {
		var ls []held
		if err := db.Select(&ls, `SELECT attempts, status, next_attempt_at FROM uploads ORDER BY id`); err != nil || len(ls) != jobs {
			t.Fatalf("read the jobs: %d rows, %v", len(ls), err)
		}
		return ls
	}
	claimed := leases()

	// The second node starts once the first holds every job.
	n2 := startNode(t, dbURL, prefix, env...)
	testkit.Eventually(t, 60*time.Second, "every lease renewed past two more leases", func() bool {
		for i, l := range leases() {
			if l.Attempts != 1 || l.Status != "uploading" {
				t.Fatalf("job %d %s after %d attempts while its first upload hangs; want uploading, 1 attempt: the lease was lost", ids[i], l.Status, l.Attempts)
			}
			if l.Until.Before(claimed[i].Until.Add(2 * lease)) {
				return false
			}
		}
		return true
	})
	if got := fake.Hanging(); got != jobs {
		t.Fatalf("%d PUTs hanging; want the first node's %d and none of the second's", got, jobs)
	}

	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n.exited
	killed := time.Now()
	// Nothing finished, nothing was taken over, and no lease outlasts the
	// node by more than a lease: that is how long its jobs wait.
	for i, l := range leases() {
		if l.Attempts != 1 || l.Status != "uploading" {
			t.Fatalf("at the kill job %d is %s after %d attempts; want uploading, 1 attempt", ids[i], l.Status, l.Attempts)
		}
		if l.Until.After(killed.Add(lease)) {
			t.Errorf("job %d's lease ends %v after the kill; want at most the lease, %v", ids[i], l.Until.Sub(killed), lease)
		}
	}
	fake.SetFault(nil)

	var want []string
	for _, id := range ids {
		var job struct {
			UID      int64  `db:"uid"`
			Status   string `db:"status"`
			Key      string `db:"key"`
			Attempts int    `db:"attempts"`
		}
		testkit.Eventually(t, lease+60*time.Second, fmt.Sprintf("job %d done by the second node", id), func() bool {
			return db.Get(&job, `SELECT uid, status, key, attempts FROM uploads WHERE id = $1`, id) == nil && job.Status == "done"
		})
		if job.Attempts != 2 {
			t.Errorf("job %d took %d attempts; want 2 (the killed one, then the second node's after the lease)", id, job.Attempts)
		}
		obj := fake.Object(job.Key)
		sum := sha256.Sum256(obj)
		if wantKey := fmt.Sprintf("avatars/%d/%s.jpg", job.UID, hex.EncodeToString(sum[:])); job.Key != wantKey {
			t.Errorf("job %d stored under %s; its content names %s", id, job.Key, wantKey)
		}
		var avatar string
		db.Get(&avatar, `SELECT avatar_url FROM users WHERE id = $1`, job.UID)
		if avatar != "https://cdn.example/"+job.Key {
			t.Errorf("user %d avatar_url = %q; want the CDN URL of %s", job.UID, avatar, job.Key)
		}
		var ready int
		db.Get(&ready, `SELECT count(*) FROM events WHERE uid = $1 AND type = 'avatar.ready' AND subject = $2`, job.UID, id)
		if ready != 1 {
			t.Errorf("job %d has %d avatar.ready events; want 1", id, ready)
		}
		want = append(want, job.Key)
	}
	slices.Sort(want)
	if got := fake.Keys("avatars/"); !slices.Equal(got, want) {
		t.Errorf("bucket holds %v; want exactly %v", got, want)
	}
	resp, err := http.Get(n2.client + "/readyz")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("second node not ready: %v", err)
	}
	resp.Body.Close()
}

// postAvatar uploads a small JPEG, distinct per i, and returns its job id.
func postAvatar(t *testing.T, base, token string, i int) int64 {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64+i, 48))
	for x := range 64 + i {
		for y := range 48 {
			img.Set(x, y, color.RGBA{uint8(x * 4), uint8(y * 5), uint8(i * 60), 255})
		}
	}
	var jpg bytes.Buffer
	jpeg.Encode(&jpg, img, nil)
	body, ctype := testkit.Form("avatar", "me.jpg", jpg.Bytes())
	r, err := testkit.Send(nil, "POST", base+"/api/v1/me/avatar", token, ctype, body)
	if err != nil || r.Status != http.StatusAccepted {
		t.Fatalf("POST /me/avatar: %d %s, %v", r.Status, r.Raw, err)
	}
	job := wiretest.Decode[wire.JobReply](t, r.Raw).Job
	if job.ID == 0 {
		t.Fatalf("POST /me/avatar: %s; want a job id", r.Raw)
	}
	return job.ID
}
