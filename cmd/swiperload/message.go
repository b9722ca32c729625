package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// messageLoad measures a message from its send to the friend's socket.
// Users 1..users are made pairs of friends, (1, 2), (3, 4), …, by both
// liking each other through the client API before the clock starts (the
// real path: the node's own swipe and match, so each actor holds the
// friendship as it would), and each holds a socket. Then messages fall
// due at -rate a second, open-loop, each sent as send_message over its
// sender's socket with a client_id of its own; every user sends in turn
// (see messageSender), so each sends rate/users a second, under the
// node's 10 a second. Two latencies are timed from when a message fell
// due: its response reaching the sender, and its "message" event
// reaching the friend's socket (matched by client_id).
//
// The baseline, at the same rate over the same sockets and before and
// after the sends, is the `messages` request (a page of one message of
// the conversation): the same frame, session, user actor and reply, and
// one PostgreSQL round trip, a read. What a send costs beyond it is the
// write (the friendship's lock, the INSERT, two events, a commit and its
// WAL flush) and the push to the friend through the friend's actor.
func messageLoad(args []string) error {
	fs := flag.NewFlagSet("message", flag.ExitOnError)
	run := asUsers(fs, 2000, 512)
	baseline := fs.Duration("baseline", 10*time.Second, "run the baseline (the messages request, one read) at -rate for this long before and after the sends (0: none)")
	size := fs.Int("size", 40, "characters per message")
	var cpu cpuGroups
	fs.Var(&cpu, "cpu", "NAME:PID,PID…: report these processes' CPU time per message and per baseline call (repeatable; Linux /proc)")
	fs.Parse(args)
	if *run.rate <= 0 {
		*run.rate = 2000
	}
	pairs := *run.users / 2
	if pairs < 1 {
		return errors.New("-users must be at least 2: one pair of friends")
	}
	*run.users = 2 * pairs
	if *run.rate > 10**run.users {
		return fmt.Errorf("-rate %d over %d users is more than the 10 messages a second each the node allows", *run.rate, *run.users)
	}
	if *size < 1 || *size > 2000 {
		return errors.New("-size must be 1–2000 characters")
	}
	tokens, err := run.tokens()
	if err != nil {
		return err
	}
	t0 := time.Now()
	if err := befriend(run, tokens); err != nil {
		return err
	}
	fmt.Printf("%d pairs of friends made (or found made) in %s\n", pairs, time.Since(t0).Round(time.Millisecond))

	book := &messageBook{}
	var pushRec recorder
	var end atomic.Int64 // unix nanoseconds the send phase ends; a push heard later is in flight at the end
	var late, unknown atomic.Int64
	onEvent := func(u int, event string, data json.RawMessage) {
		if event != "message" {
			return
		}
		id, ok := messageTo(u, data)
		if !ok {
			return // the sender's own copy
		}
		due, ok := book.heard(id)
		switch {
		case !ok:
			unknown.Add(1) // not this run's, or heard twice
		case time.Now().UnixNano() > end.Load():
			late.Add(1)
		default:
			pushRec.add(time.Since(due))
		}
	}
	end.Store(1<<63 - 1)
	t0 = time.Now()
	socks, err := dialSocks(run, "", tokens, onEvent)
	if err != nil {
		return err
	}
	fmt.Printf("opened %d sockets in %s\n", len(socks), time.Since(t0).Round(time.Millisecond))
	time.Sleep(2 * time.Second) // let the sessions register: this measures, it does not synchronise

	rate, c, d := *run.rate, min(*run.c, *run.users), *run.d
	runBaseline := func(when string) {
		if *baseline <= 0 {
			return
		}
		what := fmt.Sprintf("baseline %s: messages request (one read) over the socket", when)
		cpu0 := cpu.sample()
		start := time.Now()
		rec, missed := openLoopFrom(start, rate, c, *baseline, what, func(ctx context.Context, _, i int) ([]byte, error) {
			u, to := messageSender(i, pairs)
			return socks[u-1].request(ctx, "messages", map[string]any{"with": to, "limit": 1})
		}, nil)
		rec.report(fmt.Sprintf("%s (open loop at %d/s)", what, rate), time.Since(start))
		if missed > 0 {
			fmt.Printf("baseline %s: %d requests not answered by the end of the run (due, but queued or in flight)\n", when, missed)
		}
		cpu.report(cpu0, rec.count(), "baseline call")
	}
	runBaseline("before")

	tag := strconv.FormatInt(time.Now().UnixNano()%(1<<40), 36) // client_ids of this run only
	var limited, notFriend, unavailable atomic.Int64
	cpu0 := cpu.sample()
	start := time.Now()
	end.Store(start.Add(d).UnixNano())
	replies, missed := openLoopFrom(start, rate, c, d, "send_message", func(ctx context.Context, _, i int) ([]byte, error) {
		u, to := messageSender(i, pairs)
		id := tag + "-" + strconv.Itoa(i)
		book.expect(id, dueAt(start, rate, i))
		body, err := socks[u-1].request(ctx, "send_message", map[string]any{"to": to, "text": messageText(i, tag, *size), "client_id": id})
		var e *apiError
		switch {
		case errors.As(err, &e) && e.Code == 1108:
			// The node gave up waiting (its call timeout), not the send: it
			// may be stored and pushed yet, so it stays in the book.
			unavailable.Add(1)
		case errors.As(err, &e):
			book.forget(id) // refused: nothing is stored, nothing pushed
			switch e.Code {
			case 1106:
				limited.Add(1)
			case 1103:
				notFriend.Add(1)
			}
		case err != nil && ctx.Err() == nil:
			book.forget(id) // the socket failed; counted as an error
		}
		// A send the run's end cut short may still be stored and pushed:
		// it stays in the book, as not heard by the end.
		return body, err
	}, nil)
	elapsed := time.Since(start)
	cpu.report(cpu0, replies.count(), "message")
	// The pushes still on their way get a moment, to tell in flight from
	// lost; they are not timed.
	for wait := time.Now().Add(5 * time.Second); book.left() > 0 && time.Now().Before(wait); {
		time.Sleep(50 * time.Millisecond) // polling the readers' progress, with a deadline
	}
	replies.report(fmt.Sprintf("send_message: due → its response (open loop at %d/s)", rate), elapsed)
	if missed > 0 {
		fmt.Printf("send_message: %d not answered by the end of the run (due, but queued or in flight)\n", missed)
	}
	pushRec.report("message: due → its event on the friend's socket", elapsed)
	fmt.Printf("messages due %d; refused 1106 (rate limit) %d, 1103 (not friends) %d; 1108 (the node's call timed out; kept as maybe sent) %d; pushes not heard by the end of the run %d (%d of them heard within 5 s after it, %d never); events of no message of this run %d\n",
		replies.count()+int(replies.errors.Load())+int(missed), limited.Load(), notFriend.Load(), unavailable.Load(), late.Load()+book.left(), late.Load(), book.left(), unknown.Load())
	if book.left() > 0 {
		fmt.Printf("never heard, by client_id (at most 5): %s\n", strings.Join(book.some(5), " "))
	}
	fmt.Println(seqReport(socks))
	runBaseline("after")
	return nil
}

// befriend makes users 2k+1 and 2k+2 friends, by each liking the other
// over HTTP, 32 pairs at a time. A like already made (an earlier run on
// the same database) is answered with its first result, so the second
// like of every pair must say matched.
func befriend(run *userRun, tokens []string) error {
	pairs := len(tokens) / 2
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := int(next.Add(1) - 1); k < pairs; k = int(next.Add(1) - 1) {
				a, b := 2*k+1, 2*k+2
				st, body, err := post(run.at(a)+"/api/v1/swipes", tokens[a-1], map[string]any{"sid": b, "mark": "like"})
				if err == nil && st == 200 {
					st, body, err = post(run.at(b)+"/api/v1/swipes", tokens[b-1], map[string]any{"sid": a, "mark": "like"})
				}
				if err != nil || st != 200 || !strings.Contains(string(body), `"matched":true`) {
					failed.Add(1)
					logOnce(fmt.Sprintf("befriend %d and %d: %d %s %v", a, b, st, body, err))
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d pairs could not be made friends (swipes between them made before, by the seed or a mixed run? use a fresh database seeded with -swipes 0)", n, pairs)
	}
	return nil
}

// messageSender returns who sends message i of a run over pairs pairs of
// friends (2k+1, 2k+2), and to whom: every user once per round of
// 2 × pairs messages, first the pairs' first members, then their second,
// so each user sends once a round and hears its friend half a round after
// it spoke, not at the same moment.
func messageSender(i, pairs int) (from, to int) {
	j := i % (2 * pairs)
	if j < pairs {
		return 2*j + 1, 2*j + 2
	}
	j -= pairs
	return 2*j + 2, 2*j + 1
}

// messageText is message i's text, size characters long.
func messageText(i int, tag string, size int) string {
	s := fmt.Sprintf("swiperload %s message %d ", tag, i)
	if len(s) >= size {
		return s[:size]
	}
	return s + strings.Repeat("x", size-len(s))
}

// messageTo returns the client_id of the message a "message" event's data
// holds when the message is to user u (not u's own copy of one it sent).
func messageTo(u int, data json.RawMessage) (string, bool) {
	var d struct {
		Message struct {
			To       int64   `json:"to"`
			ClientID *string `json:"client_id"`
		} `json:"message"`
	}
	if json.Unmarshal(data, &d) != nil || d.Message.To != int64(u) || d.Message.ClientID == nil {
		return "", false
	}
	return *d.Message.ClientID, true
}

// messageBook holds the messages sent and not yet heard by their friend:
// client_id → when the message fell due.
type messageBook struct {
	m sync.Map
	n atomic.Int64
}

func (b *messageBook) expect(id string, due time.Time) {
	if _, loaded := b.m.LoadOrStore(id, due); !loaded {
		b.n.Add(1)
	}
}

// heard takes id out of the book and returns when it fell due; false if
// it is not in the book (heard already, or never sent).
func (b *messageBook) heard(id string) (time.Time, bool) {
	v, ok := b.m.LoadAndDelete(id)
	if !ok {
		return time.Time{}, false
	}
	b.n.Add(-1)
	return v.(time.Time), true
}

func (b *messageBook) forget(id string) { b.heard(id) }

// left returns how many are sent and not heard.
func (b *messageBook) left() int64 { return b.n.Load() }

// some returns up to n of the ids not heard, to look for in the database.
func (b *messageBook) some(n int) []string {
	var ids []string
	b.m.Range(func(k, _ any) bool {
		ids = append(ids, k.(string))
		return len(ids) < n
	})
	return ids
}
