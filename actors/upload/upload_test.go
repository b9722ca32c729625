package upload_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/cos/costest"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// refreshes records which users' actors were told of a change.
type refreshes struct {
	mu   sync.Mutex
	uids []int64
}

func (r *refreshes) Refresh(ctx context.Context, uid int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.uids = append(r.uids, uid)
	return nil
}

func (r *refreshes) count(uid int64) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, u := range r.uids {
		if u == uid {
			n++
		}
	}
	return n
}

type env struct {
	db      *postgres.DB
	store   *postgres.UploadStore
	fake    *costest.Server
	objects swiper.ObjectStore
	users   *refreshes
	mgr     *upload.Manager
}

// newEnv starts a manager on a fresh database, storing through the real
// COS SDK into a fake bucket. Settings are short so that retries take
// milliseconds.
func newEnv(t *testing.T, wrap func(swiper.ObjectStore) swiper.ObjectStore, tune func(*upload.Options)) *env {
	t.Helper()
	db := pgtest.MustOpenDB(t)
	e := &env{db: db, store: postgres.NewUploadStore(db), fake: costest.New(t), users: &refreshes{}}
	c, err := cos.New(cos.Options{BucketURL: e.fake.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example", Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	e.objects = c
	if wrap != nil {
		e.objects = wrap(c)
	}
	e.mgr = e.startManager(t, e.objects, tune)
	return e
}

// startManager starts a manager on e's database (each in an actor system
// of its own, as on its own node), storing into objects, with the short
// settings of newEnv tuned by tune. It is stopped when t ends.
func (e *env) startManager(t *testing.T, objects swiper.ObjectStore, tune func(*upload.Options)) *upload.Manager {
	t.Helper()
	o := upload.Options{
		Store: e.store, Objects: objects, Users: e.users, Clock: swiper.SystemClock{},
		Log:         slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError})),
		Concurrency: 8, Poll: 20 * time.Millisecond, Timeout: 300 * time.Millisecond, Lease: time.Second,
		MaxAttempts: 30, BackoffBase: 5 * time.Millisecond, BackoffMax: 50 * time.Millisecond,
	}
	if tune != nil {
		tune(&o)
	}
	system := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return o.Log }))
	m, err := upload.Start(system, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Stop)
	return m
}

// testWriter sends the manager's log to the test's.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

func (e *env) users_(t *testing.T, n int) []int64 {
	t.Helper()
	var ids []int64
	if err := e.db.Select(&ids, `INSERT INTO users (phone, nickname) SELECT '+8613' || lpad(g::text, 9, '0'), 'U'
		FROM generate_series(1, $1) g RETURNING id`, n); err != nil {
		t.Fatal(err)
	}
	return ids
}

// job creates a job for uid whose bytes are unique to it.
func (e *env) job(t *testing.T, uid int64, i int) (*swiper.UploadJob, []byte) {
	t.Helper()
	data := []byte(fmt.Sprintf("jpeg bytes of user %d, image %d", uid, i))
	j, err := e.store.CreateUpload(context.Background(), uid, swiper.AvatarKey(uid, fmt.Sprintf("%064d", i)), data, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return j, data
}

// waitStatus polls the job until it reaches status, within d.
func (e *env) waitStatus(t *testing.T, id int64, status swiper.UploadStatus, d time.Duration) *swiper.UploadJob {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		j, err := e.store.UploadJob(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status == status {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %d is %s after %v (attempts %d, last error %q); want %s", id, j.Status, d, j.Attempts, j.LastError, status)
		}
		time.Sleep(10 * time.Millisecond) // polling interval
	}
}

// TestFlakyStorageEveryJobDone: half the PUTs fail with 500, some
// connections reset, some hang past the timeout; every job still ends
// done, stored under its own key with its own bytes, and each is
// announced once.
func TestFlakyStorageEveryJobDone(t *testing.T) {
	e := newEnv(t, nil, nil)
	e.fake.SetFault(func(n int) string {
		switch {
		case n%2 == 0:
			return costest.Fail
		case n%7 == 1:
			return costest.Reset
		case n%11 == 3:
			return costest.Hang
		}
		return costest.OK
	})
	uids := e.users_(t, 10)
	type want struct {
		job  *swiper.UploadJob
		data []byte
	}
	var jobs []want
	for _, uid := range uids {
		for i := range 4 {
			j, data := e.job(t, uid, i)
			jobs = append(jobs, want{j, data})
		}
	}
	e.mgr.Kick()
	var keys []string
	for _, w := range jobs {
		j := e.waitStatus(t, w.job.ID, swiper.UploadDone, 60*time.Second)
		if j.URL != "https://cdn.example/"+w.job.Key {
			t.Errorf("job %d URL = %q; want the CDN URL of %s", j.ID, j.URL, w.job.Key)
		}
		if got := e.fake.Object(w.job.Key); !bytes.Equal(got, w.data) {
			t.Errorf("object %s holds %q; want %q", w.job.Key, got, w.data)
		}
		keys = append(keys, w.job.Key)
	}
	slices.Sort(keys)
	if got := e.fake.Keys("avatars/"); !slices.Equal(got, keys) {
		t.Errorf("bucket holds %d keys; want exactly the %d jobs' keys", len(got), len(keys))
	}
	if puts := e.fake.Puts(); puts < int64(2*len(jobs)) {
		t.Errorf("%d PUTs for %d jobs; the faults should have forced at least twice as many", puts, len(jobs))
	}
	es := postgres.NewEventStore(e.db)
	for _, uid := range uids {
		evs, err := es.Events(context.Background(), uid, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(evs) != 4 {
			t.Errorf("user %d has %d events; want 4 avatar.ready", uid, len(evs))
		}
		for _, ev := range evs {
			if ev.Type != swiper.EventAvatarReady {
				t.Errorf("user %d event %s; want avatar.ready", uid, ev.Type)
			}
		}
		if n := e.users.count(uid); n < 4 {
			t.Errorf("user %d's actor was told %d times; want at least 4", uid, n)
		}
	}
	if n := e.mgr.Active(); n != 0 {
		t.Errorf("%d uploaders still running; want 0", n)
	}
}

// TestStorageDownForGood: with the storage failing every call the job
// fails after its attempts, visible with its last error, and the user
// hears avatar.failed; retried once the storage is back, it is done.
func TestStorageDownForGood(t *testing.T) {
	e := newEnv(t, nil, func(o *upload.Options) { o.MaxAttempts = 3 })
	e.fake.SetFault(func(int) string { return costest.Fail })
	uid := e.users_(t, 1)[0]
	j, data := e.job(t, uid, 1)
	e.mgr.Kick()
	failed := e.waitStatus(t, j.ID, swiper.UploadFailed, 20*time.Second)
	if failed.Attempts != 3 || failed.LastError == "" {
		t.Errorf("failed job: attempts %d, last error %q; want 3 and the cause", failed.Attempts, failed.LastError)
	}
	if n := e.fake.Puts(); n != 3 {
		t.Errorf("%d PUTs; want 3 (one per attempt, no SDK retries)", n)
	}
	list, err := e.store.Uploads(context.Background(), swiper.UploadFailed, 10)
	if err != nil || len(list) != 1 || list[0].ID != j.ID {
		t.Fatalf("failed jobs = %+v, %v; want job %d", list, err, j.ID)
	}
	evs, _ := postgres.NewEventStore(e.db).Events(context.Background(), uid, 0, 10)
	if len(evs) != 1 || evs[0].Type != swiper.EventAvatarFailed || evs[0].Subject != j.ID {
		t.Errorf("events %+v; want one avatar.failed for job %d", evs, j.ID)
	}

	e.fake.SetFault(nil)
	if _, err := e.store.RetryUpload(context.Background(), j.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	e.mgr.Kick()
	done := e.waitStatus(t, j.ID, swiper.UploadDone, 20*time.Second)
	if done.Attempts != 1 {
		t.Errorf("attempts after the retry = %d; want 1", done.Attempts)
	}
	if got := e.fake.Object(j.Key); !bytes.Equal(got, data) {
		t.Errorf("stored %q; want %q", got, data)
	}
}

// panicky panics on its first Put, as a bug in an uploader would.
type panicky struct {
	swiper.ObjectStore
	mu     sync.Mutex
	panics int
}

func (p *panicky) Put(ctx context.Context, key string, data []byte) error {
	p.mu.Lock()
	first := p.panics == 0
	p.panics++
	p.mu.Unlock()
	if first {
		panic("uploader bug")
	}
	return p.ObjectStore.Put(ctx, key, data)
}

// TestCrashedUploaderIsRetried: an uploader that panics is stopped by its
// supervisor and its job is retried as a failed attempt.
func TestCrashedUploaderIsRetried(t *testing.T) {
	e := newEnv(t, func(s swiper.ObjectStore) swiper.ObjectStore { return &panicky{ObjectStore: s} }, nil)
	uid := e.users_(t, 1)[0]
	j, _ := e.job(t, uid, 1)
	e.mgr.Kick()
	done := e.waitStatus(t, j.ID, swiper.UploadDone, 20*time.Second)
	if done.Attempts != 2 {
		t.Errorf("attempts = %d; want 2 (the crash, then the upload)", done.Attempts)
	}
}

// TestBackoffIsTheOptions: Options.Backoff is swiper.Backoff over
// BackoffBase, BackoffMax and Rand; its full jitter and cap are tested with
// swiper.Backoff (backoff_test.go in the root package).
func TestBackoffIsTheOptions(t *testing.T) {
	o := upload.Options{BackoffBase: time.Second, BackoffMax: time.Minute, Rand: func() float64 { return 0.5 }}
	b := swiper.Backoff{Base: o.BackoffBase, Max: o.BackoffMax, Rand: o.Rand}
	for _, attempt := range []int{0, 1, 2, 4, 7, 100} {
		if got, want := o.Backoff(attempt), b.Delay(attempt); got != want {
			t.Errorf("Backoff(%d) = %v; want %v, as swiper.Backoff", attempt, got, want)
		}
	}
	if got, want := o.Backoff(7), 30*time.Second; got != want { // 64 s window capped at 60 s
		t.Errorf("Backoff(7) with rand 0.5 = %v; want %v", got, want)
	}
}

// TestStartRefusesZeroKnobs: the knobs the node's configuration sets have
// no default here, so a zero one is a wiring mistake, refused at once.
func TestStartRefusesZeroKnobs(t *testing.T) {
	tests := []struct {
		name string
		zero func(*upload.Options)
	}{
		{"Timeout", func(o *upload.Options) { o.Timeout = 0 }},
		{"Lease", func(o *upload.Options) { o.Lease = 0 }},
		{"BackoffBase", func(o *upload.Options) { o.BackoffBase = 0 }},
		{"MaxAttempts", func(o *upload.Options) { o.MaxAttempts = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := upload.Options{
				Store: struct{ swiper.UploadStore }{}, Objects: struct{ swiper.ObjectStore }{},
				Clock: swiper.SystemClock{}, Log: slog.Default(),
				Timeout: time.Second, Lease: time.Second, BackoffBase: time.Second, MaxAttempts: 1,
			}
			tt.zero(&o)
			if m, err := upload.Start(nil, o); err == nil {
				m.Stop()
				t.Errorf("Start with a zero %s: no error", tt.name)
			}
		})
	}
}
