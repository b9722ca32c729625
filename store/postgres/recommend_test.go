package postgres_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

func TestRecommendations(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	born := func(years, days int) time.Time { return today.AddDate(-years, 0, days) }
	// me wants women aged 25 to 30 in Shanghai.
	me := addUser(t, db, person{Sex: "female", Birthday: born(27, 0), Location: "Shanghai", DatingSex: "female", MinAge: 25, MaxAge: 30})
	w := func(bday time.Time) person {
		return person{Sex: "female", Birthday: bday, Location: "Shanghai"}
	}
	youngest := addUser(t, db, w(born(25, 0))) // 25 today: in
	addUser(t, db, w(born(25, 1)))             // 25 tomorrow: out
	oldest := addUser(t, db, w(born(31, 1)))   // 31 tomorrow, 30 today: in
	addUser(t, db, w(born(31, 0)))             // 31 today: out
	mid1 := addUser(t, db, w(born(28, 0)))     // in
	mid2 := addUser(t, db, w(born(28, 0)))     // in, same birthday: after mid1
	swiped := addUser(t, db, w(born(27, 5)))   // in, but swiped
	addUser(t, db, person{Sex: "male", Birthday: born(27, 0), Location: "Shanghai"})
	addUser(t, db, person{Sex: "female", Birthday: born(27, 0), Location: "Beijing"})
	addUser(t, db, person{Birthday: born(27, 0), Location: "Shanghai"}) // no sex
	addUser(t, db, person{Sex: "female", Location: "Shanghai"})         // no birthday
	sl1 := addUser(t, db, w(born(29, 0)))                               // superliked me first
	sl2 := addUser(t, db, w(born(26, 0)))                               // superliked me last
	slSwiped := addUser(t, db, w(born(26, 3)))                          // superliked me, and I swiped
	slTooOld := addUser(t, db, w(born(40, 0)))                          // superliked me, out of range
	likedMe := addUser(t, db, w(born(30, 0)))                           // liked me: no priority

	mustSwipe(t, s, me, swiped, swiper.Dislike, base)
	mustSwipe(t, s, sl1, me, swiper.Superlike, base)
	mustSwipe(t, s, slSwiped, me, swiper.Superlike, base.Add(time.Minute))
	mustSwipe(t, s, me, slSwiped, swiper.Dislike, base.Add(2*time.Minute))
	mustSwipe(t, s, slTooOld, me, swiper.Superlike, base.Add(3*time.Minute))
	mustSwipe(t, s, likedMe, me, swiper.Like, base.Add(4*time.Minute))
	mustSwipe(t, s, sl2, me, swiper.Superlike, base.Add(5*time.Minute))

	// In (birthday, id) order: oldest (born 31y-1d... earliest), likedMe
	// (30y), then mid1, mid2 (28y), youngest (25y).
	rest := []int64{oldest, likedMe, mid1, mid2, youngest}
	for _, tc := range []struct {
		name  string
		limit int
		want  []int64
	}{
		{"all", 20, append([]int64{sl2, sl1}, rest...)},
		{"superlikers first", 2, []int64{sl2, sl1}},
		{"then the others", 4, []int64{sl2, sl1, oldest, likedMe}},
		{"none", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cands, err := s.Recommendations(ctx, me, today, tc.limit)
			if err != nil {
				t.Fatal(err)
			}
			got := candidateIDs(cands)
			for i, c := range cands {
				if wantFlag := c.ID == sl1 || c.ID == sl2; c.SuperlikedMe != wantFlag {
					t.Errorf("candidate %d (%d): SuperlikedMe = %v; want %v", i, c.ID, c.SuperlikedMe, wantFlag)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Recommendations(limit %d) = %v; want %v", tc.limit, got, tc.want)
			}
		})
	}

	// Swiping a candidate takes it out.
	mustSwipe(t, s, me, mid1, swiper.Like, base.Add(time.Hour))
	mustSwipe(t, s, me, sl2, swiper.Like, base.Add(time.Hour))
	cands, err := s.Recommendations(ctx, me, today, 20)
	if err != nil {
		t.Fatal(err)
	}
	got := candidateIDs(cands)
	if want := []int64{sl1, oldest, likedMe, mid2, youngest}; !slices.Equal(got, want) {
		t.Errorf("after two swipes: %v; want %v", got, want)
	}

	if _, err := s.Recommendations(ctx, 999999, today, 20); swiper.ErrorCode(err) != swiper.ENotFound {
		t.Errorf("Recommendations for no user = %v; want code %d", err, swiper.ENotFound)
	}
}

func TestRecommendationsPreferences(t *testing.T) {
	s, db := newSocial(t)
	ctx := context.Background()
	today := time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC)
	born := func(years int) time.Time { return today.AddDate(-years, 0, 0) }
	sh := func(sex string, age int) int64 {
		return addUser(t, db, person{Sex: sex, Birthday: born(age), Location: "Shanghai"})
	}
	bj := func(sex string, age int) int64 {
		return addUser(t, db, person{Sex: sex, Birthday: born(age), Location: "Beijing"})
	}
	shF30, shM30, shM40, bjF30, bjM35 := sh("female", 30), sh("male", 30), sh("male", 40), bj("female", 30), bj("male", 35)
	shF29 := addUser(t, db, person{Sex: "female", Birthday: born(30).AddDate(0, 0, 1), Location: "Shanghai"})

	// The callers have no birthday, so none of them is anyone's candidate.
	for _, tc := range []struct {
		name string
		me   person
		want []int64 // in (birthday, id) order
	}{
		{"any sex, own city", person{Location: "Shanghai", DatingSex: "any"},
			[]int64{shM40, shF30, shM30, shF29}},
		{"men, own city", person{Location: "Shanghai", DatingSex: "male"},
			[]int64{shM40, shM30}},
		{"women in another city", person{Location: "Shanghai", DatingSex: "female", DatingLocation: "Beijing"},
			[]int64{bjF30}},
		{"any sex in Beijing, 31 to 35", person{Location: "Shanghai", DatingLocation: "Beijing", MinAge: 31, MaxAge: 35},
			[]int64{bjM35}},
		{"exactly 30", person{Location: "Shanghai", MinAge: 30, MaxAge: 30},
			[]int64{shF30, shM30}},
		{"a caller with no location: no one here", person{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			me := addUser(t, db, tc.me)
			cands, err := s.Recommendations(ctx, me, today, 50)
			if err != nil {
				t.Fatal(err)
			}
			got := candidateIDs(cands)
			if !slices.Equal(got, tc.want) {
				t.Errorf("Recommendations = %v; want %v", got, tc.want)
			}
		})
	}
}

// TestRecommendationsLeapDay: on 29 February, someone born on 1 March 18
// years before is still 17 (swiper.AgeOn), and someone born on 28 February
// is 18.
func TestRecommendationsLeapDay(t *testing.T) {
	s, db := newSocial(t)
	today := time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC)
	in := addUser(t, db, person{Sex: "female", Birthday: time.Date(2010, 2, 28, 0, 0, 0, 0, time.UTC), Location: "Shanghai"})
	out := addUser(t, db, person{Sex: "female", Birthday: time.Date(2010, 3, 1, 0, 0, 0, 0, time.UTC), Location: "Shanghai"})
	if a, b := swiper.AgeOn(time.Date(2010, 2, 28, 0, 0, 0, 0, time.UTC), today), swiper.AgeOn(time.Date(2010, 3, 1, 0, 0, 0, 0, time.UTC), today); a != 18 || b != 17 {
		t.Fatalf("AgeOn says %d and %d; the test assumes 18 and 17", a, b)
	}
	me := addUser(t, db, person{Sex: "male", Location: "Shanghai", MinAge: 18, MaxAge: 18})
	cands, err := s.Recommendations(context.Background(), me, today, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(cands) != 1 || cands[0].ID != in {
		t.Errorf("Recommendations = %+v; want only %d (not %d)", cands, in, out)
	}
}

// candidateIDs returns the ids of cands, in order (nil for none).
func candidateIDs(cands []swiper.Candidate) []int64 {
	var ids []int64
	for _, c := range cands {
		ids = append(ids, c.ID)
	}
	return ids
}
