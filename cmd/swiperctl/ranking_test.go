package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis/redistest"
)

// TestRankingRebuild corrupts the hot ranking in Redis (a stale member, a
// lost increment, one counted twice) and has `swiperctl ranking rebuild`
// mend it: afterwards every score is what the swipes in PostgreSQL say.
func TestRankingRebuild(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "swiperctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	url := pgtest.NewDatabase(t)
	rdb, prefix := redistest.MustOpen(t)
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "SWIPER_DATABASE_URL="+url, "SWIPER_REDIS_URL="+redistest.URL(), "SWIPER_REDIS_PREFIX="+prefix)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("swiperctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	run("seed", "-users", "300", "-swipes", "20", "-swipers", "100")

	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var swipes []struct {
		SID  int64  `db:"sid"`
		Mark string `db:"mark"`
	}
	if err := db.Select(&swipes, `SELECT sid, mark FROM swipes`); err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	for _, s := range swipes {
		want[strconv.FormatInt(s.SID, 10)] += float64(swiper.Mark(s.Mark).Score())
	}
	if len(want) < 10 {
		t.Fatalf("the seed made swipes of %d users; want more to compare", len(want))
	}

	ctx := context.Background()
	key := prefix + "ranking"
	rdb.ZAdd(ctx, key, redisZ("999999", 1000)) // no swipes: must go
	i := 0
	for member, score := range want {
		switch i % 3 {
		case 0: // lost
		case 1: // counted twice
			rdb.ZAdd(ctx, key, redisZ(member, 2*score))
		case 2:
			rdb.ZAdd(ctx, key, redisZ(member, score))
		}
		i++
	}

	if out := run("ranking", "rebuild"); !strings.Contains(out, "ranking rebuilt: "+strconv.Itoa(len(want))+" users") {
		t.Fatalf("rebuild said %q; want %d users", out, len(want))
	}
	got, err := rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("ranking has %d members; want %d", len(got), len(want))
	}
	for _, z := range got {
		if w, ok := want[z.Member.(string)]; !ok || w != z.Score {
			t.Errorf("user %v: score %v; want %v (in PostgreSQL: %v)", z.Member, z.Score, w, ok)
		}
	}
}

func redisZ(member string, score float64) goredis.Z { return goredis.Z{Score: score, Member: member} }
