package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/postgres"
)

// pageAll reads a paged list to its end, limit at a time, calling between
// after each page, and returns the ids in the order read.
func pageAll(t *testing.T, limit int, list func(swiper.Page) ([]int64, *swiper.PageKey, error), between func()) []int64 {
	t.Helper()
	var all []int64
	page := swiper.Page{Limit: limit}
	for range 1000 {
		ids, next, err := list(page)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) > limit {
			t.Fatalf("page of %d; want at most %d", len(ids), limit)
		}
		all = append(all, ids...)
		if next == nil {
			return all
		}
		if len(ids) == 0 {
			t.Fatal("an empty page with a next key")
		}
		page.After = next
		between()
	}
	t.Fatal("the pages never end")
	return nil
}

func TestFriendsPages(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	me := addUser(t, db, person{})
	ids := addUsers(t, db, 300)
	// 250 friendships, five to an instant, so that ties are broken by id;
	// half with me as uid1, half as uid2.
	if _, err := db.Exec(`
		INSERT INTO friendships (uid1, uid2, created_at)
		SELECT least($1::int8, f), greatest($1::int8, f), $3::timestamptz - (n / 5) * interval '1 second'
		FROM unnest($2::int8[]) WITH ORDINALITY AS x (f, n)`, me, pq.Int64Array(ids[:250]), base); err != nil {
		t.Fatal(err)
	}
	var want []int64
	if err := db.Select(&want, `
		SELECT f FROM (SELECT uid2 AS f, created_at FROM friendships WHERE uid1 = $1
			UNION ALL SELECT uid1, created_at FROM friendships WHERE uid2 = $1) x
		ORDER BY created_at DESC, f DESC`, me); err != nil {
		t.Fatal(err)
	}
	friends := func(p swiper.Page) ([]int64, *swiper.PageKey, error) {
		fs, next, err := s.Friends(ctx, me, p)
		out := make([]int64, len(fs))
		for i := range fs {
			out[i] = fs[i].ID
		}
		return out, next, err
	}
	for _, limit := range []int{1, 7, 50, 100, 250, 251} {
		got := pageAll(t, limit, friends, func() {})
		if !slices.Equal(got, want) {
			t.Errorf("limit %d: %d friends read, want %d in order", limit, len(got), len(want))
		}
	}
	// New friendships while paging come before the first page: the pages
	// read go on without a repeat or a gap.
	added := 250
	got := pageAll(t, 30, friends, func() {
		if added < 300 {
			if _, err := db.Exec(`INSERT INTO friendships (uid1, uid2, created_at) VALUES (least($1::int8, $2::int8), greatest($1::int8, $2::int8), now())`, me, ids[added]); err != nil {
				t.Fatal(err)
			}
			added++
		}
	})
	if !slices.Equal(got, want) {
		t.Errorf("paging while friendships are added: %d read, want the %d there at the start, in order", len(got), len(want))
	}
	if fs, next, err := s.Friends(ctx, ids[250], swiper.Page{Limit: 10}); err != nil || len(fs) != 1 || next != nil {
		t.Errorf("a friend's one friend: %d, next %v, %v; want 1, nil", len(fs), next, err)
	}
}

func TestLikedMePages(t *testing.T) {
	s, db := newSocial(t, postgres.WithMaxBatch(50))
	ctx := context.Background()
	me := addUser(t, db, person{})
	ids := addUsers(t, db, 120)
	for i, id := range ids {
		mark := swiper.Like
		if i%4 == 0 {
			mark = swiper.Superlike
		}
		mustSwipe(t, s, id, me, mark, base.Add(time.Duration(i/3)*time.Millisecond))
	}
	// Answered likes are left out.
	for _, id := range ids[:10] {
		mustSwipe(t, s, me, id, swiper.Dislike, base.Add(time.Hour))
	}
	var want []int64
	for i := len(ids) - 1; i >= 10; i-- {
		want = append(want, ids[i])
	}
	// Three to an instant: ids descending within one; ids ascend with i.
	liked := func(p swiper.Page) ([]int64, *swiper.PageKey, error) {
		ls, next, err := s.LikedMe(ctx, me, p)
		out := make([]int64, len(ls))
		for i := range ls {
			out[i] = ls[i].ID
		}
		return out, next, err
	}
	for _, limit := range []int{1, 4, 50, 110, 111} {
		if got := pageAll(t, limit, liked, func() {}); !slices.Equal(got, want) {
			t.Errorf("limit %d: %v; want %v", limit, got, want)
		}
	}
}
