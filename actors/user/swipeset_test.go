package user

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSwipeSetAgreesWithASortedSlice runs random adds, removes and lookups
// against the set and a plain sorted slice, over ids on both sides of
// 2³²: any id truncated or aliased would make them disagree.
func TestSwipeSetAgreesWithASortedSlice(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() int64 {
		switch r.IntN(4) {
		case 0:
			return int64(r.IntN(2000)) + 1
		case 1:
			return math.MaxUint32 - 2 + int64(r.IntN(5)) // 2³²-3 … 2³²+1
		case 2:
			return int64(r.IntN(2000)) + 1 + math.MaxUint32 + 1 // aliases of case 0 if truncated
		default:
			return r.Int64N(1 << 40)
		}
	}
	var initial []int64
	for range 500 {
		initial = append(initial, pick())
	}
	initial = append(initial, initial[:50]...) // duplicates, as a retry might load
	set := newSwipeSet(initial)
	want := slices.Clone(initial)
	slices.Sort(want)
	want = slices.Compact(want)
	for i := range 20000 {
		id := pick()
		_, in := slices.BinarySearch(want, id)
		if got := set.has(id); got != in {
			t.Fatalf("step %d: has(%d) = %v, want %v", i, id, got, in)
		}
		switch r.IntN(3) {
		case 0:
			set.add(id)
			if j, found := slices.BinarySearch(want, id); !found {
				want = slices.Insert(want, j, id)
			}
		case 1:
			set.remove(id)
			if j, found := slices.BinarySearch(want, id); found {
				want = slices.Delete(want, j, j+1)
			}
		}
		if set.len() != len(want) {
			t.Fatalf("step %d: len = %d, want %d", i, set.len(), len(want))
		}
	}
	for _, id := range want {
		if !set.has(id) {
			t.Fatalf("lost %d", id)
		}
	}
}

func TestSwipeSetZeroValueAndNegatives(t *testing.T) {
	var s swipeSet
	if s.has(5) || s.len() != 0 {
		t.Fatal("zero set is not empty")
	}
	s.add(5)
	s.add(-5)
	s.remove(-5)
	if !s.has(5) || s.has(-5) || s.len() != 1 {
		t.Fatalf("has(5)=%v has(-5)=%v len=%d", s.has(5), s.has(-5), s.len())
	}
	if n := newSwipeSet([]int64{-1, 0, 1}); n.has(-1) || !n.has(0) || !n.has(1) || n.len() != 2 {
		t.Fatalf("newSwipeSet with a negative id: len=%d", n.len())
	}
}
