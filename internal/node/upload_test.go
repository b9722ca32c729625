package node_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/actors/upload"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/cos/costest"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/transport/admin"
	"github.com/swiperhq/swiper/transport/ws"
)

// withUploads gives a harness another object store than local files,
// and tunes its upload manager.
func withUploads(objects swiper.ObjectStore, tune func(*upload.Options)) func(*harnessOptions) {
	return func(o *harnessOptions) { o.objects, o.upload = objects, tune }
}

// testJPEG is a w×h photo-like JPEG (a gradient with noise, which
// compresses about as badly as a photo), different for each seed.
func testJPEG(tb testing.TB, w, h int, seed uint64) []byte {
	tb.Helper()
	r := rand.New(rand.NewPCG(seed, 2))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			n := uint8(r.IntN(48))
			img.Set(x, y, color.RGBA{uint8(x*255/w) ^ n, uint8(y*255/h) + n, 128 + n, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 85}); err != nil {
		tb.Fatal(err)
	}
	return b.Bytes()
}

// post uploads data as the avatar and returns the status and job.
func (a *harness) postAvatar(token string, data []byte) (int, wire.Job, error) {
	body, ctype := testkit.Form("avatar", "me.jpg", data)
	r, err := testkit.Send(a.client, "POST", a.api+"/api/v1/me/avatar", token, ctype, body)
	if err != nil {
		return r.Status, wire.Job{}, err
	}
	if r.Status != http.StatusAccepted {
		if !json.Valid(r.Raw) {
			return r.Status, wire.Job{}, fmt.Errorf("body %q is not JSON", r.Raw)
		}
		return r.Status, wire.Job{}, nil // an error body; the caller checks the status
	}
	out, err := wiretest.Exactly[wire.JobReply](r.Raw)
	return r.Status, out.Job, err
}

// get makes a GET with token from the goroutine of tb; decode reads the
// body.
func (a *harness) get(tb testing.TB, base, path, token string) response {
	tb.Helper()
	r, err := testkit.Do(a.client, "GET", base+path, token, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestAvatarEndToEnd: an upload accepted over HTTP becomes the user's
// avatar, served at /media/ by this node, with its avatar.ready event and
// its metrics.
func TestAvatarEndToEnd(t *testing.T) {
	a := newHarness(t)
	uid, token := a.user(person{})
	status, job, err := a.postAvatar(token, testJPEG(t, 1200, 900, 1))
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("POST /me/avatar: %d, %v", status, err)
	}
	job = a.waitJob(t, token, job.ID, "done")
	if job.URL == nil || !strings.HasPrefix(*job.URL, a.api+fmt.Sprintf("/media/avatars/%d/", uid)) || job.Error != nil {
		t.Fatalf("done job %+v; want a /media/ URL of user %d and no error", job, uid)
	}
	url := *job.URL
	resp, err := a.client.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	img, err := jpeg.DecodeConfig(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || img.Width != 1080 || img.Height != 810 {
		t.Errorf("GET %s: %d, %dx%d, %v; want the 1080×810 JPEG", url, resp.StatusCode, img.Width, img.Height, err)
	}
	if got := wiretest.Decode[wire.Me](t, a.get(t, a.api, "/api/v1/me", token).Raw).User.AvatarURL; got == nil || *got != url {
		t.Errorf("GET /me avatar_url = %v; want %s", got, url)
	}
	evs, _ := postgres.NewEventStore(a.db).Events(context.Background(), uid, 0, 10)
	if len(evs) != 1 || evs[0].Type != swiper.EventAvatarReady || evs[0].Detail != url {
		t.Errorf("events %+v; want one avatar.ready with the URL", evs)
	}
	// The job row says done before its uploader has reported back and
	// stopped: wait for that, then for its figures.
	eventually(t, 20*time.Second, "the uploader stops once idle", func() bool {
		return wiretest.Decode[admin.ActorsReply](t, a.get(t, a.adm, "/admin/v1/actors", adminToken).Raw).Uploaders == 0
	})
	want := map[string]float64{
		`swiper_upload_attempts_total{result="ok"}`:        1,
		`swiper_upload_jobs_finished_total{status="done"}`: 1,
		`swiper_upload_jobs{status="pending"}`:             0,
		`swiper_upload_jobs{status="failed"}`:              0,
		`swiper_upload_job_seconds_count`:                  1,
		`swiper_upload_storage_seconds_count`:              1,
		`swiper_uploaders`:                                 0,
	}
	var got map[string]float64
	defer func() { // also when eventually gives up
		for name, w := range want {
			if v, ok := got[name]; !ok || v != w {
				t.Errorf("metric %s = %v (present %v); want %v", name, v, ok, w)
			}
		}
	}()
	eventually(t, 20*time.Second, "the upload metrics settle", func() bool {
		got = metricValues(t, a.metrics)
		for name, w := range want {
			if v, ok := got[name]; !ok || v != w {
				return false
			}
		}
		return true
	})
}

// waitJob polls the caller's job over HTTP until it has status.
func (a *harness) waitJob(tb testing.TB, token string, id int64, status string) wire.Job {
	tb.Helper()
	path := fmt.Sprintf("/api/v1/me/avatar/jobs/%d", id)
	var job wire.Job
	defer func() { // shows the job eventually gave up on
		if job.Status != status {
			tb.Logf("job %+v", job)
		}
	}()
	eventually(tb, 20*time.Second, fmt.Sprintf("job %d %s", id, status), func() bool {
		job = wire.Job{}
		if r := a.get(tb, a.api, path, token); r.Status == 200 {
			job = wiretest.Decode[wire.JobReply](tb, r.Raw).Job
		}
		return job.Status == status
	})
	return job
}

// TestAvatarAdminRetry: with COS down for good an upload fails after its
// attempts, the user is told, the job is listed by the admin API, and the
// admin's retry brings it to done once COS is back.
func TestAvatarAdminRetry(t *testing.T) {
	fake := costest.New(t)
	fake.SetFault(func(int) string { return costest.Fail })
	objects, err := cos.New(cos.Options{BucketURL: fake.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	a := newHarness(t, withUploads(objects, func(o *upload.Options) { o.MaxAttempts = 3 }))
	uid, token := a.user(person{})
	status, job, err := a.postAvatar(token, testJPEG(t, 300, 200, 2))
	if err != nil || status != http.StatusAccepted {
		t.Fatalf("POST /me/avatar: %d, %v", status, err)
	}
	id := job.ID
	failed := a.waitJob(t, token, id, "failed")
	if failed.Attempts != 3 || failed.Error == nil || *failed.Error != swiper.UploadFailedMessage || failed.URL != nil {
		t.Errorf("failed job %+v; want 3 attempts, the user's message, no url", failed)
	}
	evs, _ := postgres.NewEventStore(a.db).Events(context.Background(), uid, 0, 10)
	if len(evs) != 1 || evs[0].Type != swiper.EventAvatarFailed {
		t.Errorf("events %+v; want one avatar.failed", evs)
	}
	list := a.get(t, a.adm, "/admin/v1/uploads?status=failed", adminToken)
	if jobs := wiretest.Decode[admin.JobsReply](t, list.Raw).Jobs; len(jobs) != 1 || jobs[0].UserID != uid {
		t.Fatalf("GET /admin/v1/uploads?status=failed = %s; want the job with user_id %d", list.Raw, uid)
	}

	fake.SetFault(nil)
	if r, err := testkit.Do(a.client, "POST", fmt.Sprintf("%s/admin/v1/uploads/%d/retry", a.adm, id), adminToken, nil); err != nil || r.Status != 200 {
		t.Fatalf("retry: %d %s, %v", r.Status, r.Raw, err)
	}
	done := a.waitJob(t, token, id, "done")
	if done.URL == nil {
		t.Fatalf("done job %+v has no url", done)
	}
	key := strings.TrimPrefix(*done.URL, "https://cdn.example/")
	if fake.Object(key) == nil || !slices.Equal(fake.Keys("avatars/"), []string{key}) {
		t.Errorf("bucket holds %v; want just %s", fake.Keys("avatars/"), key)
	}
}

// metricValues gathers reg into "name{label=\"value\"}" → value, with
// histograms as their _count.
func metricValues(tb testing.TB, reg *prometheus.Registry) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName()
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			if len(labels) > 0 {
				name += "{" + strings.Join(labels, ",") + "}"
			}
			switch {
			case m.Counter != nil:
				out[name] = m.Counter.GetValue()
			case m.Gauge != nil:
				out[name] = m.Gauge.GetValue()
			case m.Histogram != nil:
				out[mf.GetName()+"_count"] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

func benchWorkers(def int) int {
	if n, err := strconv.Atoi(os.Getenv("SWIPER_BENCH_WORKERS")); err == nil && n > 0 {
		return n
	}
	return def
}

// BenchmarkAvatarAccept measures accepted uploads per second of a ~1 MB
// JPEG on one node over HTTP: parse, check, re-encode, commit (202).
// SWIPER_BENCH_WORKERS sets the clients in flight per core (default 4).
func BenchmarkAvatarAccept(b *testing.B) {
	a := newHarness(b)
	_, token := a.user(person{})
	src := testJPEG(b, 2000, 1500, 1)
	b.Logf("image: %d bytes", len(src))
	b.SetBytes(int64(len(src)))
	var failed atomic.Int64
	b.SetParallelism(benchWorkers(4))
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if status, _, err := a.postAvatar(token, src); err != nil || status != http.StatusAccepted {
				failed.Add(1)
			}
		}
	})
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d uploads not accepted", n)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "uploads/s")
}

// BenchmarkAvatarReady measures the time from an upload's POST to its
// avatar.ready frame arriving on the user's WebSocket (the avatar stored
// locally, avatar_url set and the event committed in one transaction, then
// pushed), one upload at a time, and reports p50 and p99; and, of it, the
// time from the 202 to the job's transaction.
func BenchmarkAvatarReady(b *testing.B) {
	a := newHarness(b)
	uid, token := a.user(person{})
	w := a.dial(token)
	a.online(uid, 1)
	src := testJPEG(b, 2000, 1500, 1)
	var lats, bgs []time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		status, job, err := a.postAvatar(token, src)
		if err != nil || status != http.StatusAccepted {
			b.Fatalf("POST: %d, %v", status, err)
		}
		accepted := time.Now()
		f := w.event(20 * time.Second)
		lats = append(lats, time.Since(start))
		if wiretest.Decode[ws.EventFrame](b, f.raw).Event != "avatar.ready" {
			b.Fatalf("got %v; want avatar.ready", f)
		}
		j, err := a.uploads.UploadJob(context.Background(), job.ID)
		if err != nil {
			b.Fatal(err)
		}
		// Done at the time its transaction stamped.
		bgs = append(bgs, j.UpdatedAt.Sub(accepted))
	}
	b.StopTimer()
	slices.Sort(lats)
	slices.Sort(bgs)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(lats[len(lats)/2]), "p50-ms")
	b.ReportMetric(ms(lats[len(lats)*99/100]), "p99-ms")
	// Of which after the 202: claim, store, commit.
	b.ReportMetric(ms(bgs[len(bgs)/2]), "after202-p50-ms")
	b.ReportMetric(ms(bgs[len(bgs)*99/100]), "after202-p99-ms")
}
