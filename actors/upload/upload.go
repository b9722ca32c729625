// Package upload pushes uploaded avatars to object storage, and deletes the
// objects of deleted accounts: a per-node upload manager actor claims due
// jobs from the job store and hands each to a child uploader actor, which
// stores the image (or deletes the object) and records the outcome.
// The manager is the uploaders' supervisor and owns the retry policy
// (exponential backoff with full jitter, a bounded number of attempts);
// the truth about every job stays in the database, so a crash of an
// uploader, the manager or the whole node loses nothing.
//
// A claim is a short lease that the manager renews for all its running
// jobs at once, every third of the lease (a heartbeat, as asynq does), so
// an upload may take longer than the lease while a job held by a node
// that died comes back within one lease. An uploader whose lease was lost
// (not renewed in time, or taken over by another claim) is cancelled and
// its attempt abandoned: it records nothing.
//
// It depends on the root package, protoactor-go and the Prometheus client.
package upload

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/scheduler"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/swiperhq/swiper"
)

// Users is what the manager asks of the user actors (actors/user.Client
// in cmd/): re-read the user, whose avatar changed, and push the events
// stored for them.
type Users interface {
	Refresh(ctx context.Context, uid int64) error
}

// Options configure a Manager. Timeout, Lease, BackoffBase and
// MaxAttempts are the node's configuration (SWIPER_STORAGE_TIMEOUT,
// SWIPER_UPLOAD_LEASE, SWIPER_UPLOAD_BACKOFF, SWIPER_UPLOAD_ATTEMPTS, set
// by internal/app) and must be set; zero Concurrency, Poll and BackoffMax
// take the defaults in brackets.
type Options struct {
	Store   swiper.UploadStore
	Objects swiper.ObjectStore
	Users   Users // may be nil
	Clock   swiper.Clock
	Log     *slog.Logger
	// Registerer gets the upload metrics; nil registers none.
	Registerer prometheus.Registerer

	Concurrency int           // uploaders at once [8]
	Poll        time.Duration // how often due jobs are looked for [1 s]
	// Timeout bounds one attempt's storage call. Lease is how long a claim
	// holds a job unless renewed; the manager renews the leases of its
	// running jobs every Lease/3, so an attempt may outlast it, while the
	// jobs of a node that died are due again within a Lease.
	Timeout time.Duration
	Lease   time.Duration
	// MaxAttempts bounds the attempts of a job before it fails. Attempt n
	// waits a random time in [0, min(BackoffMax, BackoffBase·2^(n-1)))
	// before the next ("full jitter").
	MaxAttempts int
	BackoffBase time.Duration
	BackoffMax  time.Duration // [5 min]
	// Rand returns a number in [0, 1) for the jitter [math/rand/v2].
	Rand func() float64
}

func (o *Options) defaults() error {
	if o.Store == nil || o.Objects == nil || o.Clock == nil || o.Log == nil {
		return errors.New("upload: Store, Objects, Clock and Log are required")
	}
	if o.Timeout <= 0 || o.Lease <= 0 || o.BackoffBase <= 0 || o.MaxAttempts <= 0 {
		return fmt.Errorf("upload: Timeout (%v), Lease (%v), BackoffBase (%v) and MaxAttempts (%d) must be positive",
			o.Timeout, o.Lease, o.BackoffBase, o.MaxAttempts)
	}
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Poll, time.Second)
	def(&o.BackoffMax, 5*time.Minute)
	if o.Concurrency <= 0 {
		o.Concurrency = 8
	}
	if o.Rand == nil {
		o.Rand = rand.Float64
	}
	if o.Heartbeat() < time.Millisecond {
		return fmt.Errorf("upload: the lease (%v) is too short to renew", o.Lease)
	}
	return nil
}

// Backoff is how long to wait after a job's attempt-th failed attempt:
// full jitter over an exponentially growing, capped window.
func (o *Options) Backoff(attempt int) time.Duration {
	return swiper.Backoff{Base: o.BackoffBase, Max: o.BackoffMax, Rand: o.Rand}.Delay(attempt)
}

// Heartbeat is how often the manager renews the leases of its running
// jobs: three times a lease, so that two renewals in a row may fail
// before a lease runs out.
func (o *Options) Heartbeat() time.Duration { return o.Lease / 3 }

// Manager is a running upload manager.
type Manager struct {
	system *actor.ActorSystem
	pid    *actor.PID
	active atomic.Int64
	cancel context.CancelFunc
}

// Start spawns the node's upload manager on system.
func Start(system *actor.ActorSystem, o Options) (*Manager, error) {
	if err := o.defaults(); err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	m := &Manager{system: system, cancel: cancel}
	met := newMetrics(o.Registerer, o.Store, &m.active)
	// The manager supervises its uploaders one for one and stops, never
	// restarts, one that panics (its job — the failing message — is dropped
	// with it); the manager then counts a failed attempt and reschedules the
	// job from the database, like any other failure.
	props := actor.PropsFromProducer(func() actor.Actor {
		return &manager{o: &o, m: m, met: met, base: base, inflight: map[string]*running{}}
	}, actor.WithSupervisor(actor.NewOneForOneStrategy(0, 0, func(any) actor.Directive { return actor.StopDirective })))
	// The manager itself is under the root's default supervision: restarted
	// after a panic, its uploaders stopped, their jobs back after their
	// leases.
	pid, err := system.Root.SpawnNamed(props, "uploads")
	if err != nil {
		cancel()
		return nil, fmt.Errorf("upload: spawn manager: %w", err)
	}
	m.pid = pid
	return m, nil
}

// Kick makes the manager look for due jobs now, not at its next poll: a
// node that has just accepted an upload kicks its own manager.
func (m *Manager) Kick() { m.system.Root.Send(m.pid, kick{}) }

// Active is how many uploaders are running.
func (m *Manager) Active() int { return int(m.active.Load()) }

// Stop stops the manager after its uploaders finish their attempts
// (bounded by the storage timeout; after 10 s they are cancelled). Jobs it
// held and did not finish come back when their leases end.
func (m *Manager) Stop() {
	if err := m.system.Root.PoisonFuture(m.pid).Wait(); err != nil {
		m.cancel()
		m.system.Root.StopFuture(m.pid).Wait()
	}
	m.cancel()
}

// Messages between the manager and its uploaders. They never leave the
// node, so they are plain Go values rather than protobuf messages.
type (
	kick      struct{}
	tick      struct{}
	heartbeat struct{}
	// attempt is an uploader's one job: the claim and the context that
	// the manager cancels when the claim's lease is lost.
	attempt struct {
		claim *swiper.ClaimedUpload
		ctx   context.Context
	}
	result struct {
		from     *actor.PID // the uploader
		job      swiper.UploadJob
		err      error // the storage call's failure
		recorded bool  // the outcome is in the database
		took     time.Duration
	}
)

// errLeaseLost is the cause with which an uploader is cancelled when its
// job's lease was lost.
var errLeaseLost = errors.New("upload lease lost")

// running is a job an uploader is working on.
type running struct {
	claim  *swiper.ClaimedUpload
	ctx    context.Context // the uploader's
	cancel context.CancelCauseFunc
	// expiry cancels the attempt with errLeaseLost when the lease runs
	// out unrenewed; each renewal moves it on.
	expiry *time.Timer
}

// stop lets go of the attempt's context and its expiry timer.
func (r *running) stop(cause error) {
	r.expiry.Stop()
	r.cancel(cause)
}

// lost reports whether the attempt was abandoned because its lease was.
func (r *running) lost() bool { return errors.Is(context.Cause(r.ctx), errLeaseLost) }

// manager is the upload manager actor.
type manager struct {
	o        *Options
	m        *Manager
	met      *metrics
	base     context.Context
	inflight map[string]*running // by uploader PID
	more     bool                // the last claim was full: more may be due
	stopping bool
	stopTick scheduler.CancelFunc
	stopBeat scheduler.CancelFunc
}

func (a *manager) Receive(ctx actor.Context) {
	switch msg := ctx.Message().(type) {
	case *actor.Started:
		// The schedulers' timer goroutines are stopped by stopTick and
		// stopBeat, when the manager stops or restarts.
		a.stopTick = scheduler.NewTimerScheduler(ctx).SendRepeatedly(a.o.Poll, a.o.Poll, ctx.Self(), tick{})
		a.stopBeat = scheduler.NewTimerScheduler(ctx).SendRepeatedly(a.o.Heartbeat(), a.o.Heartbeat(), ctx.Self(), heartbeat{})
		a.claim(ctx)
	case *actor.Stopping:
		a.stopping = true
		a.stopTick()
		a.stopBeat()
	case *actor.Stopped:
		for _, r := range a.inflight {
			r.stop(context.Canceled)
		}
	case *actor.Restarting:
		// The new instance starts its own timers; the jobs held here come
		// back after their leases.
		a.stopTick()
		a.stopBeat()
		for _, r := range a.inflight {
			r.stop(context.Canceled)
		}
	case kick, tick:
		a.claim(ctx)
	case heartbeat:
		a.renew()
	case *result:
		child := msg.from
		if child == nil || a.inflight[child.Id] == nil {
			return
		}
		r := a.inflight[child.Id]
		delete(a.inflight, child.Id)
		a.m.active.Store(int64(len(a.inflight)))
		ctx.Stop(child)
		lost := r.lost()
		r.stop(context.Canceled)
		a.finished(msg, lost)
		if a.more {
			a.claim(ctx)
		}
	case *actor.Terminated:
		// A child that stops before reporting has panicked.
		r := a.inflight[msg.Who.Id]
		if r == nil {
			return
		}
		delete(a.inflight, msg.Who.Id)
		a.m.active.Store(int64(len(a.inflight)))
		lost := r.lost()
		r.stop(context.Canceled)
		a.met.attempts.WithLabelValues("crash").Inc()
		a.o.Log.Error("uploader crashed", "job_id", r.claim.Job.ID, "attempt", r.claim.Job.Attempts)
		if !lost {
			a.retry(r.claim.Job, errors.New("uploader crashed"))
		}
		a.claim(ctx)
	}
}

// claim fills the free uploader slots with due jobs.
func (a *manager) claim(ctx actor.Context) {
	free := a.o.Concurrency - len(a.inflight)
	if free <= 0 || a.stopping || a.base.Err() != nil {
		return
	}
	cctx, cancel := context.WithTimeout(a.base, 5*time.Second)
	defer cancel()
	now := a.o.Clock.Now()
	jobs, err := a.o.Store.ClaimUploads(cctx, free, a.o.Lease, now)
	if err != nil {
		a.o.Log.Warn("claim upload jobs; trying again at the next poll", "err", err)
		return
	}
	a.more = len(jobs) == free
	for i := range jobs {
		c := &jobs[i]
		jctx, cancel := context.WithCancelCause(a.base)
		r := &running{claim: c, ctx: jctx, cancel: cancel}
		// The timer's goroutine only cancels; stop (when the uploader
		// reports or stops, or the manager stops) stops the timer.
		r.expiry = time.AfterFunc(a.leaseLeft(now), func() { cancel(errLeaseLost) })
		pid := ctx.Spawn(actor.PropsFromProducer(func() actor.Actor { return &uploader{o: a.o, met: a.met} }))
		a.inflight[pid.Id] = r
		ctx.Send(pid, &attempt{claim: c, ctx: jctx})
	}
	a.m.active.Store(int64(len(a.inflight)))
}

// leaseLeft is how much of a lease granted at from is left.
func (a *manager) leaseLeft(from time.Time) time.Duration {
	return a.o.Lease - a.o.Clock.Now().Sub(from)
}

// renew is the heartbeat: it renews the leases of the running jobs in one
// call and cancels the uploaders whose leases were lost. When the store
// cannot be reached the leases stay as they were; each attempt is
// cancelled when its own lease runs out, unless a later heartbeat renews
// it first.
func (a *manager) renew() {
	held := make([]swiper.UploadClaim, 0, len(a.inflight))
	for _, r := range a.inflight {
		if r.ctx.Err() == nil {
			held = append(held, swiper.UploadClaim{ID: r.claim.Job.ID, Attempt: r.claim.Job.Attempts})
		}
	}
	if len(held) == 0 || a.base.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(a.base, a.o.Heartbeat())
	defer cancel()
	now := a.o.Clock.Now()
	ids, err := a.o.Store.RenewUploads(ctx, held, a.o.Lease, now)
	if err != nil {
		a.o.Log.Warn("renew upload leases; trying again at the next heartbeat", "jobs", len(held), "err", err)
		return
	}
	renewed := make(map[int64]bool, len(ids))
	for _, id := range ids {
		renewed[id] = true
	}
	for _, r := range a.inflight {
		switch {
		case r.ctx.Err() != nil:
		case renewed[r.claim.Job.ID]:
			r.expiry.Reset(a.leaseLeft(now))
		default:
			a.o.Log.Warn("lost the lease of an upload job; abandoning the attempt", "job_id", r.claim.Job.ID, "attempt", r.claim.Job.Attempts)
			r.stop(errLeaseLost)
		}
	}
}

// finished accounts for an uploader's report. An attempt abandoned with
// its lease records nothing: the job is another claim's, or due again.
func (a *manager) finished(r *result, lost bool) {
	switch {
	case lost && !r.recorded:
		a.met.attempts.WithLabelValues("lost").Inc()
	case r.err == nil && r.recorded:
		a.met.attempts.WithLabelValues("ok").Inc()
		a.met.finished.WithLabelValues(string(swiper.UploadDone)).Inc()
		a.met.jobSeconds.Observe(a.o.Clock.Now().Sub(r.job.CreatedAt).Seconds())
	case r.err == nil:
		// Stored, but the database did not take the outcome: the job comes
		// back after its lease and is stored again, the same bytes under the
		// same key.
		a.met.attempts.WithLabelValues("ok").Inc()
	default:
		a.met.attempts.WithLabelValues("error").Inc()
		a.o.Log.Warn("object storage attempt failed", "job_id", r.job.ID, "kind", r.job.Kind, "attempt", r.job.Attempts, "err", r.err)
		a.retry(r.job, r.err)
	}
}

// retry records a failed attempt: due again after a backoff, or failed for
// good after the last attempt.
func (a *manager) retry(j swiper.UploadJob, cause error) {
	now := a.o.Clock.Now()
	final := j.Attempts >= a.o.MaxAttempts
	next := now.Add(a.o.Backoff(j.Attempts))
	ctx, cancel := context.WithTimeout(a.base, 5*time.Second)
	defer cancel()
	ok, err := a.o.Store.FailUpload(ctx, j.ID, j.Attempts, cause.Error(), next, final, now)
	switch {
	case err != nil:
		a.o.Log.Warn("record a failed upload attempt; the job comes back after its lease", "job_id", j.ID, "err", err)
	case ok && final && j.Kind == swiper.UploadDelete:
		a.met.finished.WithLabelValues(string(swiper.UploadFailed)).Inc()
		a.o.Log.Error("deleting a deleted account's object failed for good; an operator's retry will try again",
			"job_id", j.ID, "user_id", j.UID, "key", j.Key, "attempts", j.Attempts, "err", cause)
	case ok && final:
		a.met.finished.WithLabelValues(string(swiper.UploadFailed)).Inc()
		a.o.Log.Error("avatar upload failed for good", "job_id", j.ID, "user_id", j.UID, "attempts", j.Attempts, "err", cause)
		refresh(ctx, a.o, j.UID)
	}
}

// refresh tells uid's actor that their avatar or events changed.
func refresh(ctx context.Context, o *Options, uid int64) {
	if o.Users == nil {
		return
	}
	if err := o.Users.Refresh(ctx, uid); err != nil {
		o.Log.Warn("tell the user actor of an upload; the event is stored for the next resume", "user_id", uid, "err", err)
	}
}

// uploader is a child actor that makes one attempt at one job.
type uploader struct {
	o   *Options
	met *metrics
}

func (u *uploader) Receive(ctx actor.Context) {
	at, ok := ctx.Message().(*attempt)
	if !ok {
		return
	}
	c := at.claim
	r := &result{from: ctx.Self(), job: c.Job}
	pctx, cancel := context.WithTimeout(at.ctx, u.o.Timeout)
	start := time.Now()
	if c.Job.Kind == swiper.UploadDelete {
		r.err = u.o.Objects.Delete(pctx, c.Job.Key)
	} else {
		r.err = u.o.Objects.Put(pctx, c.Job.Key, c.Data)
	}
	cancel()
	r.took = time.Since(start)
	u.met.putSeconds.Observe(r.took.Seconds())
	if r.err == nil && at.ctx.Err() != nil {
		// Stored, but the lease went meanwhile: the job is no longer ours
		// to finish (the same bytes under the same key, stored again by
		// whoever holds it now, harm nothing).
		r.err = context.Cause(at.ctx)
	}
	if r.err == nil {
		url := u.o.Objects.URL(c.Job.Key)
		dctx, cancel := context.WithTimeout(at.ctx, 5*time.Second)
		ok, err := u.o.Store.CompleteUpload(dctx, c.Job.ID, c.Job.Attempts, url, u.o.Clock.Now())
		switch {
		case err != nil:
			u.o.Log.Warn("record a stored avatar; the job comes back after its lease", "job_id", c.Job.ID, "err", err)
		case ok:
			r.recorded = true
			if c.Job.Kind != swiper.UploadDelete {
				refresh(dctx, u.o, c.Job.UID)
			}
		}
		cancel()
	}
	// The last statement: a report means the attempt is over.
	ctx.Send(ctx.Parent(), r)
}

// metrics are the upload metrics of a node.
type metrics struct {
	attempts   *prometheus.CounterVec
	finished   *prometheus.CounterVec
	putSeconds prometheus.Histogram
	jobSeconds prometheus.Histogram
}

func newMetrics(reg prometheus.Registerer, store swiper.UploadStore, active *atomic.Int64) *metrics {
	buckets := []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swiper_upload_attempts_total",
			Help: "Avatar upload attempts on this node, by result (ok, error, crash, lost: abandoned with its lease).",
		}, []string{"result"}),
		finished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "swiper_upload_jobs_finished_total",
			Help: "Avatar upload jobs this node finished, by status (done, failed).",
		}, []string{"status"}),
		putSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "swiper_upload_storage_seconds", Help: "Latency of one object store call.", Buckets: buckets,
		}),
		jobSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "swiper_upload_job_seconds", Help: "Time from an upload's acceptance to its job being done.", Buckets: buckets,
		}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.attempts, m.finished, m.putSeconds, m.jobSeconds,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "swiper_uploaders", Help: "Uploader actors running on this node."},
			func() float64 { return float64(active.Load()) }),
		&jobsCollector{store: store, desc: prometheus.NewDesc("swiper_upload_jobs",
			"Avatar upload jobs in the cluster that are pending, uploading or failed (read at scrape).", []string{"status"}, nil)})
	return m
}

// jobsCollector reads the job counts from the database when scraped.
type jobsCollector struct {
	store swiper.UploadStore
	desc  *prometheus.Desc
}

func (c *jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *jobsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	counts, err := c.store.UploadCounts(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.desc, err)
		return
	}
	for s, n := range counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), string(s))
	}
}
