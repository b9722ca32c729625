package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres"
)

// TestSwipesSurviveSIGKILL kills swiperd while swipes are in flight and
// restarts it: every swipe that got a 200 is there, and no mutual like
// lacks its friendship.
func TestSwipesSurviveSIGKILL(t *testing.T) {
	ctx := context.Background()
	dbURL, db, prefix, store := stores(t)
	const users = 300
	if _, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: users, Seed: 7}); err != nil {
		t.Fatal(err)
	}
	var ids []int64
	if err := db.Select(&ids, `SELECT id FROM users ORDER BY id`); err != nil {
		t.Fatal(err)
	}
	tokens := make(map[int64]string, len(ids))
	var err error
	for _, id := range ids {
		if tokens[id], err = store.NewToken(ctx, id); err != nil {
			t.Fatal(err)
		}
	}

	n := startNode(t, dbURL, prefix)
	type swipe struct {
		uid, sid int64
		mark     string
	}
	var (
		mu    sync.Mutex
		acked []swipe
		count atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	client := &http.Client{Timeout: 10 * time.Second}
	// Each worker owns a slice of users and swipes from them: pairs of
	// neighbours like each other (many matches), others get random marks.
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 1))
			for i := 0; !stop.Load(); i++ {
				uid := ids[(w+workers*rng.IntN(users/workers))%len(ids)]
				var sid int64
				mark := "like"
				if rng.IntN(2) == 0 {
					sid = uid ^ 1 // the neighbour: mutual likes
				} else {
					sid = ids[rng.IntN(len(ids))]
					mark = []string{"like", "dislike"}[rng.IntN(2)]
				}
				body := fmt.Sprintf(`{"sid": %d, "mark": %q}`, sid, mark)
				req, _ := http.NewRequest("POST", n.client+"/api/v1/swipes", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+tokens[uid])
				resp, err := client.Do(req)
				if err != nil {
					continue // the node is gone: this swipe was never acknowledged
				}
				resp.Body.Close()
				if resp.StatusCode == 200 {
					mu.Lock()
					acked = append(acked, swipe{uid, sid, mark})
					mu.Unlock()
					count.Add(1)
				}
			}
		}()
	}
	testkit.Eventually(t, 30*time.Second, "swipes flowing", func() bool { return count.Load() >= 400 })
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-n.exited
	stop.Store(true)
	wg.Wait()
	t.Logf("%d swipes acknowledged before SIGKILL", len(acked))

	startNode(t, dbURL, prefix)
	for _, s := range acked {
		var mark string
		if err := db.Get(&mark, `SELECT mark FROM swipes WHERE uid = $1 AND sid = $2`, s.uid, s.sid); err != nil || mark != s.mark {
			t.Errorf("acknowledged swipe %d→%d %s: stored %q, %v", s.uid, s.sid, s.mark, mark, err)
		}
	}
	var orphans int
	if err := db.Get(&orphans, `
		SELECT count(*) FROM swipes a JOIN swipes b ON b.uid = a.sid AND b.sid = a.uid
		WHERE a.uid < a.sid AND a.mark <> 'dislike' AND b.mark <> 'dislike'
		AND NOT EXISTS (SELECT 1 FROM friendships f WHERE f.uid1 = a.uid AND f.uid2 = a.sid)`); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 {
		t.Errorf("%d mutual likes have no friendship", orphans)
	}
	var friendships int
	db.Get(&friendships, `SELECT count(*) FROM friendships`)
	if friendships == 0 {
		t.Error("no friendships at all: the workload made no matches")
	}
}
