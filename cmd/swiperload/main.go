// Command swiperload is Swiper's load generator. It drives a running node
// over HTTP, as phones would, and reports throughput and latency.
//
//	swiperload login -n 20000 -c 32     register and log in n new phones
//	swiperload me -users 1000 -c 64 -d 10s
//	                                    GET /api/v1/me as 1000 seeded users
//	swiperload swipe -users 10000 -targets 100000 -c 256 -d 10s
//	                                    POST /api/v1/swipes: each of the
//	                                    users likes or dislikes targets in turn
//	                                    (-ws: as swipe requests over sockets);
//	                                    -cpu swiperd:PID,… -cpu postgres:PID,…
//	                                    adds those processes' CPU per swipe
//	swiperload recs -users 1000 -c 8 -d 10s
//	                                    GET /api/v1/recommendations
//	swiperload ws -users 10000          hold a WebSocket per user idle and
//	                                    report what each costs the node
//	swiperload match -users 2000 -rate 1000 -d 10s [-interleave]
//	                                    match pairs of connected users at a
//	                                    steady rate; time both match frames
//	                                    (-interleave: both likes in the run,
//	                                    the second as soon as the first is
//	                                    answered, as a real day has them)
//	swiperload message -users 2000 -rate 2000 -d 30s
//	                                    pairs of friends on sockets send
//	                                    messages, open-loop; time each to
//	                                    its response and to the friend's
//	                                    socket, beside a one-read request
//	                                    at the same rate (-baseline)
//	swiperload mixed -users 2000 -rate 2000 -d 30s
//	                                    a day in small, open-loop: logins,
//	                                    recommendations, swipes (a share of
//	                                    likes answered a moment later, the
//	                                    match push timed), messages between
//	                                    the friends made, most users on
//	                                    sockets
//	swiperload failover -etcd 127.0.0.1:23790 -kills 5
//	                                    run three nodes on etcd, kill -9 one
//	                                    at a time and time until its users
//	                                    are served by the others
//	swiperload split -cluster 127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103
//	                                    where users 1..100000's actors go
//	                                    among those members (the pure hash)
//	swiperload actors -users 30000 -admin http://127.0.0.1:9091,…
//	                                    activate users 1..30000 through the
//	                                    nodes and count each node's actors
//
// login needs the node to send codes to swiperload's own SMS webhook:
// start swiperd with SWIPER_SMS_PROVIDER=webhook and
// SWIPER_SMS_WEBHOOK_URL=http://127.0.0.1:7070/sms (see -sms). me needs the
// admin token, to log in on the users' behalf. me, swipe and recs run a
// closed loop of -c clients unless -rate sets an open loop's arrivals.
// Against a cluster, -addr
// takes every node's client API, comma-separated, and spreads the users
// over them; match -ws-addr puts every socket on one node while the likes
// go through the others. Every run is bounded by -n
// or -d and talks only to the addresses given.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/HdrHistogram/hdrhistogram-go"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: swiperload login|me|swipe|recs|ws|match|message|mixed|failover|split|actors [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "login":
		err = loginLoad(os.Args[2:])
	case "me":
		err = meLoad(os.Args[2:])
	case "swipe":
		err = swipeLoad(os.Args[2:])
	case "recs":
		err = recsLoad(os.Args[2:])
	case "ws":
		err = wsLoad(os.Args[2:])
	case "match":
		err = matchLoad(os.Args[2:])
	case "message":
		err = messageLoad(os.Args[2:])
	case "mixed":
		err = mixedLoad(os.Args[2:])
	case "failover":
		err = failoverLoad(os.Args[2:])
	case "split":
		err = splitLoad(os.Args[2:])
	case "actors":
		err = actorsLoad(os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "swiperload:", err)
		os.Exit(1)
	}
}

var client = &http.Client{
	Timeout: 10 * time.Second,
	Transport: &http.Transport{
		MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024,
		DialContext: (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
	},
}

func post(url, token string, body any) (int, []byte, error) {
	data, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(data))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return send(req)
}

func send(req *http.Request) (int, []byte, error) {
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}

// recorder collects latencies from many goroutines into an HDR histogram
// (1 µs to 5 min at three significant digits: a fixed 200 KB whatever the
// run's length, where a slice of every latency grew with it).
type recorder struct {
	mu     sync.Mutex
	hist   *hdrhistogram.Histogram
	errors atomic.Int64
}

func (r *recorder) add(d time.Duration) {
	r.mu.Lock()
	if r.hist == nil {
		r.hist = hdrhistogram.New(1, int64(5*time.Minute/time.Microsecond), 3)
	}
	// A latency past the top is recorded as the top, never dropped.
	_ = r.hist.RecordValue(min(max(d.Microseconds(), 1), r.hist.HighestTrackableValue()))
	r.mu.Unlock()
}

// count returns how many latencies were recorded.
func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.hist == nil {
		return 0
	}
	return int(r.hist.TotalCount())
}

func (r *recorder) report(what string, elapsed time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	q := func(p float64) time.Duration {
		if r.hist == nil {
			return 0
		}
		return time.Duration(r.hist.ValueAtQuantile(p)) * time.Microsecond
	}
	var n int64
	if r.hist != nil {
		n = r.hist.TotalCount()
	}
	fmt.Printf("%s: %d ok, %d errors in %s: %.0f/s; latency p50 %s p90 %s p99 %s p99.9 %s max %s\n",
		what, n, r.errors.Load(), elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(),
		q(50), q(90), q(99), q(99.9), q(100))
}

func loginLoad(args []string) error {
	fs := flag.NewFlagSet("login", flag.ExitOnError)
	addr := fs.String("addr", "http://127.0.0.1:8080", "the node's client API")
	smsAddr := fs.String("sms", "127.0.0.1:7070", "where to serve the SMS webhook that receives codes")
	n := fs.Int("n", 10000, "phones to log in (each once)")
	c := fs.Int("c", 32, "concurrent clients")
	first := fs.Int("first", 0, "number of the first phone, +8617<9 digits>; change it between runs, as a phone may get one code a minute")
	fs.Parse(args)

	var codes sync.Map // phone -> code
	ln, err := net.Listen("tcp", *smsAddr)
	if err != nil {
		return err
	}
	sms := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var m struct{ Phone, Code string }
		json.NewDecoder(r.Body).Decode(&m)
		codes.Store(m.Phone, m.Code)
	})}
	// Stopped by sms.Shutdown when the run ends.
	go sms.Serve(ln)
	defer sms.Shutdown(context.Background())

	var next atomic.Int64
	var codeRec, loginRec recorder
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(*n) {
					return
				}
				phone := fmt.Sprintf("+8617%09d", int64(*first)+i)
				t0 := time.Now()
				st, body, err := post(*addr+"/api/v1/auth/code", "", map[string]string{"phone": phone})
				if err != nil || st != 200 {
					codeRec.errors.Add(1)
					logOnce(fmt.Sprintf("code: %d %s %v", st, body, err))
					continue
				}
				codeRec.add(time.Since(t0))
				code, ok := codes.Load(phone)
				if !ok {
					loginRec.errors.Add(1)
					continue
				}
				t1 := time.Now()
				st, body, err = post(*addr+"/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code.(string)})
				if err != nil || st != 200 {
					loginRec.errors.Add(1)
					logOnce(fmt.Sprintf("login: %d %s %v", st, body, err))
					continue
				}
				loginRec.add(time.Since(t1))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	codeRec.report("POST /auth/code ", elapsed)
	loginRec.report("POST /auth/login", elapsed)
	fmt.Printf("phones logged in: %.0f/s (a code and a login each)\n", float64(loginRec.count())/elapsed.Seconds())
	return nil
}

var logged atomic.Bool

func logOnce(msg string) {
	if logged.CompareAndSwap(false, true) {
		fmt.Fprintln(os.Stderr, "first error:", msg)
	}
}

func meLoad(args []string) error {
	fs := flag.NewFlagSet("me", flag.ExitOnError)
	run := asUsers(fs, 1000, 64)
	fs.Parse(args)
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	driveAt(*run.rate, *run.c, *run.d, "GET /me", func(ctx context.Context, w, i int) *http.Request {
		u := i%len(tokens) + 1
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, run.at(u)+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tokens[u-1])
		return req
	}, nil)
	return nil
}

// drive runs c clients for d in a closed loop (see closedLoop); a reply
// other than 200 is an error. ok, if set, sees every successful body. It
// returns how many requests succeeded.
func drive(c int, d time.Duration, what string, next func(ctx context.Context, w, i int) *http.Request, ok func(body []byte)) int {
	return driveAt(0, c, d, what, next, ok)
}

// driveAt is drive, open-loop when rate > 0 (see runAt).
func driveAt(rate, c int, d time.Duration, what string, next func(ctx context.Context, w, i int) *http.Request, ok func(body []byte)) int {
	return runAt(rate, c, d, what, httpCall(next), ok)
}

// A call is one operation of a load: the i-th, made by client w. It
// returns the reply's body, or errSkip to make none this time.
type call func(ctx context.Context, w, i int) ([]byte, error)

var errSkip = errors.New("skipped")

// httpCall makes the requests next returns (nil: skip); a reply other
// than 200 is an error.
func httpCall(next func(ctx context.Context, w, i int) *http.Request) call {
	return func(ctx context.Context, w, i int) ([]byte, error) {
		req := next(ctx, w, i)
		if req == nil {
			return nil, errSkip
		}
		st, body, err := send(req)
		if err == nil && st != 200 {
			err = fmt.Errorf("HTTP %d: %s", st, body)
		}
		return body, err
	}
}

// runAt runs do as c clients for d: in a closed loop if rate is 0 (see
// closedLoop), else open-loop: call i is due at start + i/rate whatever
// became of the others, c clients take the due calls in turn, and each
// latency is measured from when its call was due, not from when a client
// got to it. A slow server therefore shows as the queue it causes (the
// correction for coordinated omission: a closed loop, which waits for
// each answer before asking again, would slow down with the server and
// report only the fast answers). Call i goes out as if from client
// i mod c, so do sees the same (w, i) as in a closed loop. Calls not yet
// made when d ends are counted as missed. It returns how many succeeded.
func runAt(rate, c int, d time.Duration, what string, do call, ok func(body []byte)) int {
	if rate <= 0 {
		return closedLoop(c, d, what, do, ok)
	}
	start := time.Now()
	rec, missed := openLoop(rate, c, d, what, do, ok)
	rec.report(fmt.Sprintf("%s (open loop at %d/s)", what, rate), time.Since(start))
	if missed > 0 {
		fmt.Printf("%s: %d requests not answered by the end of the run (due, but queued or in flight)\n", what, missed)
	}
	return rec.count()
}

// openLoop is runAt's open loop: it returns the latencies and how many
// calls fell due but were not answered within d.
func openLoop(rate, c int, d time.Duration, what string, do call, ok func(body []byte)) (*recorder, int64) {
	return openLoopFrom(time.Now(), rate, c, d, what, do, ok)
}

// openLoopFrom is openLoop with its clock started at start: call i is due
// at start + i/rate (dueAt), so a caller that needs a call's due time
// (to time what else the call causes) computes the same one.
func openLoopFrom(start time.Time, rate, c int, d time.Duration, what string, do call, ok func(body []byte)) (*recorder, int64) {
	rec := &recorder{}
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(d))
	defer cancel()
	type due struct {
		i  int
		at time.Time
	}
	queue := make(chan due, rate) // a second of arrivals; beyond it the pacer waits and the lag shows in the latencies
	var missed atomic.Int64
	var wg sync.WaitGroup
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range queue {
				if ctx.Err() != nil {
					missed.Add(1)
					continue
				}
				body, err := do(ctx, r.i%c, r.i)
				if err == errSkip {
					continue
				}
				if ctx.Err() != nil {
					missed.Add(1)
					continue
				}
				if err != nil {
					rec.errors.Add(1)
					logOnce(fmt.Sprintf("%s: %v", what, err))
					continue
				}
				rec.add(time.Since(r.at))
				if ok != nil {
					ok(body)
				}
			}
		}()
	}
	// The pacer: by the clock, so a late wake-up sends what fell due at
	// once, each with the time it was due.
	for i := 0; ; i++ {
		at := dueAt(start, rate, i)
		if at.Sub(start) >= d {
			break
		}
		time.Sleep(time.Until(at))
		queue <- due{i, at}
	}
	close(queue)
	wg.Wait()
	return rec, missed.Load()
}

// dueAt is when call i of an open loop at rate a second started at start
// falls due.
func dueAt(start time.Time, rate, i int) time.Time {
	return start.Add(time.Duration(i) * time.Second / time.Duration(rate))
}

// closedLoop runs c clients for d, each making its next call when the
// last is answered: worker w makes calls i = w, w+c, w+2c… Its latencies
// flatter a slow server (see runAt); it measures the most a fixed number
// of clients get through.
func closedLoop(c int, d time.Duration, what string, do call, ok func(body []byte)) int {
	var rec recorder
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ctx.Err() == nil; i += c {
				t0 := time.Now()
				body, err := do(ctx, w, i)
				if err == errSkip {
					continue
				}
				if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
					return
				}
				if err != nil {
					rec.errors.Add(1)
					logOnce(fmt.Sprintf("%s: %v", what, err))
					continue
				}
				rec.add(time.Since(t0))
				if ok != nil {
					ok(body)
				}
			}
		}()
	}
	wg.Wait()
	rec.report(what+" (closed loop)", time.Since(start))
	return rec.count()
}

// userRun is what the commands that act as seeded users share: where the
// node is, how to log in on the users' behalf, how many users, clients and
// how long.
type userRun struct {
	addr, adminAddr, adminToken *string
	users, c, rate              *int
	d                           *time.Duration
}

func asUsers(fs *flag.FlagSet, users, c int) *userRun {
	return &userRun{
		addr:       fs.String("addr", "http://127.0.0.1:8080", "the node's client API; several, comma-separated, spread the users over them (user u talks to the (u mod n)-th)"),
		adminAddr:  fs.String("admin", "http://127.0.0.1:9090", "the node's admin API"),
		adminToken: fs.String("admin-token", os.Getenv("SWIPER_ADMIN_TOKEN"), "admin token"),
		users:      fs.Int("users", users, "act as users 1..users"),
		c:          fs.Int("c", c, "concurrent clients"),
		d:          fs.Duration("d", 10*time.Second, "how long to run"),
		rate:       fs.Int("rate", 0, "open loop: requests per second, each timed from when it was due (0: a closed loop of -c clients; match: matches per second)"),
	}
}

// at returns the client API user u (from 1) talks to.
func (r *userRun) at(u int) string {
	addrs := strings.Split(*r.addr, ",")
	return addrs[u%len(addrs)]
}

// tokens logs in as the users through the admin API.
func (r *userRun) tokens() ([]string, error) {
	return adminTokens(*r.adminAddr, *r.adminToken, *r.users)
}

// adminTokens logs in as users 1..n through the admin API, 32 at a time.
func adminTokens(adminAddr, adminToken string, n int) ([]string, error) {
	tokens := make([]string, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := i + 1
			st, body, err := post(fmt.Sprintf("%s/admin/v1/users/%d/token", adminAddr, id), adminToken, struct{}{})
			if err != nil || st != 200 {
				errs <- fmt.Errorf("token for user %d: %d %s %v", id, st, body, err)
				return
			}
			var m struct{ Token string }
			json.Unmarshal(body, &m)
			tokens[i] = m.Token
		}()
	}
	wg.Wait()
	close(errs)
	return tokens, <-errs
}

// swipeLoad has users 1..users swipe targets 1..targets: worker w plays
// the users w, w+c, …, each swiping the next target it has not swiped
// (like or dislike, at random), as one phone per user would; over HTTP,
// or with -ws as swipe requests over a socket per user.
func swipeLoad(args []string) error {
	fs := flag.NewFlagSet("swipe", flag.ExitOnError)
	run := asUsers(fs, 10000, 256)
	targets := fs.Int("targets", 100000, "swipe users 1..targets")
	start0 := fs.Int("start", 1, "the first target offset (use a new one per run on the same database)")
	overWS := fs.Bool("ws", false, "swipe over each user's socket (request frames) instead of HTTP")
	var cpu cpuGroups
	fs.Var(&cpu, "cpu", "NAME:PID,PID…: report these processes' CPU time per swipe (repeatable; Linux /proc)")
	fs.Parse(args)
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	var socks []*sock
	what := "POST /swipes"
	if *overWS {
		t0 := time.Now()
		if socks, err = dialSocks(run, "", tokens, nil); err != nil {
			return err
		}
		fmt.Printf("opened %d sockets in %s\n", len(socks), time.Since(t0).Round(time.Millisecond))
		what = "swipe over the socket"
	}
	var matches atomic.Int64
	c := min(*run.c, len(tokens))
	cpu0 := cpu.sample()
	ok := runAt(*run.rate, c, *run.d, what, func(ctx context.Context, w, i int) ([]byte, error) {
		// Worker w plays users w+1, w+1+c, …; round k of them swipes the
		// k-th target after each, so no pair repeats.
		mine := (len(tokens)-w-1)/c + 1
		j := (i - w) / c
		u := w + 1 + c*(j%mine)
		k := j/mine + *start0
		sid := (u+k-1)%*targets + 1
		if sid == u {
			return nil, errSkip
		}
		mark := "like"
		if (u+k)%3 == 0 {
			mark = "dislike"
		}
		if socks != nil {
			return socks[u-1].request(ctx, "swipe", map[string]any{"sid": sid, "mark": mark})
		}
		data := fmt.Sprintf(`{"sid":%d,"mark":%q}`, sid, mark)
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, run.at(u)+"/api/v1/swipes", bytes.NewReader([]byte(data)))
		req.Header.Set("Authorization", "Bearer "+tokens[u-1])
		st, body, err := send(req)
		if err == nil && st != 200 {
			err = fmt.Errorf("HTTP %d: %s", st, body)
		}
		return body, err
	}, func(body []byte) {
		if bytes.Contains(body, []byte(`"matched":true`)) {
			matches.Add(1)
		}
	})
	fmt.Printf("matches: %d\n", matches.Load())
	cpu.report(cpu0, ok, "swipe")
	return nil
}

// recsLoad asks for recommendations as users 1..users.
func recsLoad(args []string) error {
	fs := flag.NewFlagSet("recs", flag.ExitOnError)
	run := asUsers(fs, 1000, 8)
	limit := fs.Int("limit", 20, "recommendations per call")
	fs.Parse(args)
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	driveAt(*run.rate, *run.c, *run.d, "GET /recommendations", func(ctx context.Context, w, i int) *http.Request {
		u := i%len(tokens) + 1
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("%s/api/v1/recommendations?limit=%d", run.at(u), *limit), nil)
		req.Header.Set("Authorization", "Bearer "+tokens[u-1])
		return req
	}, nil)
	return nil
}
