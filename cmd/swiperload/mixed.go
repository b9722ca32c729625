package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// mixedLoad is a day of the app in small, open-loop: actions arrive at
// -rate a second, spread over users 1..users at random, and each is one
// of what phones do: a new phone logs in (code, then login), a user asks
// for recommendations, swipes its next target (like or dislike), or
// writes to a friend. A share of the likes is answered by the liked user
// a moment later, as its own arrival, and the match that makes is timed
// from the answer's send to both users' match frames. A message is
// between the two of a match made in this run, picked at random (none
// falls due before the first match), from either side (one who sent in
// the last 200 ms lets the other speak, or the message is skipped: the
// node allows 10 a second); when the friend holds a socket its push is
// timed too. Most users hold a socket, and their calls go over it; the
// others use HTTP. Every kind of action gets its own latency histogram,
// each latency from when the action fell due.
func mixedLoad(args []string) error {
	fs := flag.NewFlagSet("mixed", flag.ExitOnError)
	run := asUsers(fs, 2000, 512)
	sockets := fs.Float64("sockets", 0.8, "share of the users holding a socket (their calls go over it)")
	recs := fs.Float64("recs", 0.2, "share of actions that ask for recommendations")
	logins := fs.Float64("logins", 0.01, "share of actions that are a new phone logging in (the node must send codes to -sms)")
	messages := fs.Float64("messages", 0.05, "share of actions that are a message between two users who matched in this run (0: none, the mix of before)")
	likes := fs.Float64("likes", 0.4, "share of swipes that are likes (the rest are dislikes)")
	answer := fs.Float64("answer", 0.3, "share of likes the liked user answers with a like")
	answerAfter := fs.Duration("answer-after", time.Second, "mean wait before an answer (uniform over twice this)")
	start0 := fs.Int("start", 1, "the first round of targets (use a new one per run on the same database)")
	smsAddr := fs.String("sms", "127.0.0.1:7070", "serve an SMS webhook here for the login codes: start the node with SWIPER_SMS_PROVIDER=webhook and SWIPER_SMS_WEBHOOK_URL=http://<this>/sms")
	var cpu cpuGroups
	fs.Var(&cpu, "cpu", "NAME:PID,PID…: report these processes' CPU time per action (repeatable; Linux /proc)")
	fs.Parse(args)
	if *run.rate <= 0 {
		*run.rate = 2000
	}
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	n := len(tokens)
	withSocket := int(float64(n) * *sockets)

	var codes sync.Map // phone -> code, from the webhook
	if *logins > 0 {
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
	}

	// Matches in flight: the answer's send time, and how many of the two
	// match frames have come.
	type pending struct {
		sent time.Time
		seen atomic.Int32
	}
	var inflight sync.Map // pairKey -> *pending
	var pushRec, msgPushRec recorder
	var unheard atomic.Int64
	book := &messageBook{} // messages to users on sockets, not yet heard
	onEvent := func(u int, event string, data json.RawMessage) {
		if event == "message" {
			if id, ok := messageTo(u, data); ok {
				if due, ok := book.heard(id); ok {
					msgPushRec.add(time.Since(due))
				}
			}
			return
		}
		if event != "match" {
			return
		}
		var d struct{ Friend struct{ ID int64 } }
		if json.Unmarshal(data, &d) != nil {
			return
		}
		if p, ok := inflight.Load(pairKey(int64(u), d.Friend.ID)); ok {
			if p := p.(*pending); p.seen.Add(1) == 2 {
				pushRec.add(time.Since(p.sent))
				inflight.Delete(pairKey(int64(u), d.Friend.ID))
			}
		}
	}
	t0 := time.Now()
	socks, err := dialSocks(run, "", tokens[:withSocket], onEvent)
	if err != nil {
		return err
	}
	fmt.Printf("%d users, %d holding sockets (opened in %s); %d actions/s for %s\n",
		n, withSocket, time.Since(t0).Round(time.Millisecond), *run.rate, *run.d)
	// A session sends only what is stored after it has started (read its
	// stream's head, 16 at a time), and a push to one still starting is
	// never heard: the match and message pushes of the first seconds were
	// counted as lost. Let them start before the clock does.
	time.Sleep(3 * time.Second) // this measures, it does not synchronise

	// do calls method as user u: over its socket if it has one, else
	// over HTTP.
	do := func(ctx context.Context, u int, method string, params map[string]any) ([]byte, error) {
		if u <= withSocket {
			return socks[u-1].request(ctx, method, params)
		}
		var req *http.Request
		want := 200
		switch method {
		case "send_message":
			data, _ := json.Marshal(map[string]any{"text": params["text"], "client_id": params["client_id"]})
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, fmt.Sprintf("%s/api/v1/friends/%d/messages", run.at(u), params["to"]), bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
			want = 201
		case "swipe":
			data, _ := json.Marshal(params)
			req, _ = http.NewRequestWithContext(ctx, http.MethodPost, run.at(u)+"/api/v1/swipes", bytes.NewReader(data))
			req.Header.Set("Content-Type", "application/json")
		case "recommendations":
			req, _ = http.NewRequestWithContext(ctx, http.MethodGet, run.at(u)+"/api/v1/recommendations?limit=20", nil)
		}
		req.Header.Set("Authorization", "Bearer "+tokens[u-1])
		st, body, err := send(req)
		if err == nil && st != want {
			var e struct {
				Error struct {
					Code    int
					Message string
				}
			}
			json.Unmarshal(body, &e)
			err = &apiError{Status: st, Code: e.Error.Code, Message: e.Error.Message}
		}
		return body, err
	}

	var recsRec, swipeWSRec, swipeHTTPRec, answerRec, loginRec, msgWSRec, msgHTTPRec recorder
	var already, matched, answersDue atomic.Int64
	var friends friendPairs
	var noFriends, paced, limited, cutHTTP atomic.Int64
	pace := newSendPace(n, 200*time.Millisecond)
	tag := strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36) // client_ids of this run only

	rounds := make([]atomic.Int64, n+1) // each user's next target, from -start
	var phones atomic.Int64
	phoneBase := time.Now().Unix() % 100000 * 10000 // a new block of numbers each run
	ctx, cancel := context.WithTimeout(context.Background(), *run.d)
	defer cancel()
	var answers sync.WaitGroup

	// swipe is one swipe by u of sid, timed into rec from due.
	swipe := func(u, sid int, mark string, due time.Time) (bool, error) {
		rec := &swipeHTTPRec
		if u <= withSocket {
			rec = &swipeWSRec
		}
		body, err := do(ctx, u, "swipe", map[string]any{"sid": sid, "mark": mark})
		if e, ok := err.(*apiError); ok && e.Code == 1006 { // already swiped, the other mark: an earlier run's or the seed's pair
			already.Add(1)
			return false, nil
		}
		if err != nil {
			if ctx.Err() == nil {
				rec.errors.Add(1)
				logOnce(fmt.Sprintf("swipe %d→%d: %v", u, sid, err))
			}
			return false, err
		}
		rec.add(time.Since(due))
		var out struct{ Matched bool }
		json.Unmarshal(body, &out)
		return out.Matched, nil
	}

	login := func() error {
		phone := fmt.Sprintf("+8619%09d", phoneBase+phones.Add(1))
		st, body, err := post(run.at(0)+"/api/v1/auth/code", "", map[string]string{"phone": phone})
		if err != nil || st != 200 {
			return fmt.Errorf("code: %d %s %v", st, body, err)
		}
		// The node sends the code before it answers.
		v, ok := codes.Load(phone)
		if !ok {
			return fmt.Errorf("no code for %s came to -sms: start the node with SWIPER_SMS_PROVIDER=webhook", phone)
		}
		code := v.(string)
		st, body, err = post(run.at(0)+"/api/v1/auth/login", "", map[string]string{"phone": phone, "code": code})
		if err != nil || st != 200 {
			return fmt.Errorf("login: %d %s %v", st, body, err)
		}
		return nil
	}

	// message is a message from u to friend f due at due, i the action's
	// number.
	message := func(u, f, i int, due time.Time) {
		rec := &msgHTTPRec
		if u <= withSocket {
			rec = &msgWSRec
		}
		id := tag + "-" + strconv.Itoa(i)
		if f <= withSocket {
			book.expect(id, due)
		}
		_, err := do(ctx, u, "send_message", map[string]any{"to": f, "text": messageText(i, tag, 40), "client_id": id})
		if err != nil {
			if ctx.Err() != nil && u > withSocket {
				// The run's end cancelled the request: the node may not
				// have stored it, so its push is not waited for. (A frame
				// on a socket, once written, is served: it stays.)
				book.forget(id)
				cutHTTP.Add(1)
			}
			if ctx.Err() == nil {
				book.forget(id)
				rec.errors.Add(1)
				if e, ok := err.(*apiError); ok && e.Code == 1106 {
					limited.Add(1)
				}
				logOnce(fmt.Sprintf("message %d→%d: %v", u, f, err))
			}
			return
		}
		rec.add(time.Since(due))
	}

	cpu0 := cpu.sample()
	var actions atomic.Int64
	start := time.Now()
	_, missed := openLoopFrom(start, *run.rate, *run.c, *run.d, "action", func(_ context.Context, w, i int) ([]byte, error) {
		due := dueAt(start, *run.rate, i)
		r := unit(uint64(i), 1)
		u := int(mix(uint64(i), 2)%uint64(n)) + 1
		actions.Add(1)
		switch {
		case r < *logins:
			if err := login(); err != nil {
				loginRec.errors.Add(1)
				logOnce(err.Error())
				return nil, errSkip
			}
			loginRec.add(time.Since(due))
		case r < *logins+*recs:
			if _, err := do(ctx, u, "recommendations", nil); err != nil {
				if ctx.Err() == nil {
					recsRec.errors.Add(1)
					logOnce(fmt.Sprintf("recommendations: %v", err))
				}
				return nil, errSkip
			}
			recsRec.add(time.Since(due))
		case r < *logins+*recs+*messages:
			p, ok := friends.pick(mix(uint64(i), 6))
			if !ok {
				noFriends.Add(1)
				return nil, errSkip
			}
			u, f := p[0], p[1]
			if mix(uint64(i), 7)&1 == 1 {
				u, f = f, u
			}
			if now := time.Now(); !pace.allow(u, now) {
				if u, f = f, u; !pace.allow(u, now) {
					paced.Add(1)
					return nil, errSkip
				}
			}
			message(u, f, i, due)
		default:
			k := int(rounds[u].Add(1)) - 1 + *start0
			sid := (u+k-1)%n + 1
			if sid == u {
				return nil, errSkip
			}
			like := unit(uint64(i), 3) < *likes
			mark := "dislike"
			if like {
				mark = "like"
			}
			m, err := swipe(u, sid, mark, due)
			if err != nil || !like {
				return nil, errSkip
			}
			if m {
				matched.Add(1)
				friends.add(u, sid)
				return nil, errSkip
			}
			if unit(uint64(i), 4) >= *answer {
				return nil, errSkip
			}
			wait := time.Duration(unit(uint64(i), 5) * 2 * float64(*answerAfter))
			answersDue.Add(1)
			answers.Add(1)
			// The answer is an arrival of its own, due wait from now.
			time.AfterFunc(wait, func() {
				defer answers.Done()
				at := time.Now()
				both := u <= withSocket && sid <= withSocket
				var p *pending
				if both {
					p = &pending{sent: at}
					inflight.Store(pairKey(int64(u), int64(sid)), p)
				}
				m, err := swipe(sid, u, "like", at)
				if err == nil {
					answerRec.add(time.Since(at))
				}
				if err != nil || !m {
					if both {
						inflight.Delete(pairKey(int64(u), int64(sid)))
					}
					return
				}
				matched.Add(1)
				friends.add(sid, u)
			})
		}
		return nil, errSkip
	}, nil)
	elapsed := time.Since(start)
	answers.Wait()
	// Match frames still on their way get a moment; a push not heard by
	// both sides within it is counted, not waited for.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		left := 0
		inflight.Range(func(_, _ any) bool { left++; return true })
		if left == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling the readers' progress, with a deadline
	}
	inflight.Range(func(_, _ any) bool { unheard.Add(1); return true })
	for deadline := time.Now().Add(time.Second); book.left() > 0 && time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond) // the same for message pushes, within what is left of it
	}

	fmt.Printf("%d actions due, %d not started by the end (the load generator or node fell behind)\n", actions.Load()+missed, missed)
	loginRec.report("login (code + login, HTTP)", elapsed)
	recsRec.report("recommendations", elapsed)
	swipeWSRec.report("swipe over the socket", elapsed)
	swipeHTTPRec.report("swipe over HTTP", elapsed)
	answerRec.report(fmt.Sprintf("answering like (%d due)", answersDue.Load()), elapsed)
	pushRec.report("match push: answer sent → both match frames (both on sockets)", elapsed)
	msgWSRec.report("message over the socket", elapsed)
	msgHTTPRec.report("message over HTTP", elapsed)
	msgPushRec.report("message push: due → the friend's socket (friend on a socket)", elapsed)
	fmt.Printf("messages: %d skipped before the first match, %d skipped as both friends had sent in the last 200 ms, %d refused 1106, %d over HTTP cut short by the end (not waited for); pushes to sockets not heard within the wait: %d\n",
		noFriends.Load(), paced.Load(), limited.Load(), cutHTTP.Load(), book.left())
	if book.left() > 0 {
		fmt.Printf("message pushes never heard, by client_id (at most 5): %s\n", strings.Join(book.some(5), " "))
	}
	fmt.Println(seqReport(socks))
	fmt.Printf("matches: %d; match pushes not heard by both sides within 5 s: %d; swipes already made (earlier runs): %d\n",
		matched.Load(), unheard.Load(), already.Load())
	cpu.report(cpu0, int(actions.Load()), "action")
	return nil
}

// friendPairs are the pairs that matched in a run, to pick from.
type friendPairs struct {
	mu    sync.Mutex
	pairs [][2]int
}

func (f *friendPairs) add(a, b int) {
	f.mu.Lock()
	f.pairs = append(f.pairs, [2]int{a, b})
	f.mu.Unlock()
}

// pick returns the pair x names (uniformly, for a uniform x); false while
// there are none.
func (f *friendPairs) pick(x uint64) ([2]int, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.pairs) == 0 {
		return [2]int{}, false
	}
	return f.pairs[x%uint64(len(f.pairs))], true
}

// sendPace keeps each user's messages at least gap apart, so that a load
// of random picks stays under the node's per-user limit rather than
// measuring its refusals.
type sendPace struct {
	gap  time.Duration
	last []atomic.Int64 // user → unix nanoseconds of its last message
}

func newSendPace(users int, gap time.Duration) *sendPace {
	return &sendPace{gap: gap, last: make([]atomic.Int64, users+1)}
}

// allow reports whether u may send at now, and if so counts it as sent.
func (p *sendPace) allow(u int, now time.Time) bool {
	t := now.UnixNano()
	for {
		last := p.last[u].Load()
		if last != 0 && t-last < int64(p.gap) {
			return false
		}
		if p.last[u].CompareAndSwap(last, t) {
			return true
		}
	}
}

func pairKey(a, b int64) [2]int64 { return [2]int64{min(a, b), max(a, b)} }

// mix is splitmix64 of x in stream s: the load's choices are random but
// the same from run to run.
func mix(x, s uint64) uint64 {
	z := x*0x9e3779b97f4a7c15 + s*0xbf58476d1ce4e5b9
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// unit is mix mapped onto [0, 1).
func unit(x, s uint64) float64 { return float64(mix(x, s)>>11) / (1 << 53) }
