package user

import (
	"math"
	"slices"

	"github.com/RoaringBitmap/roaring/v2"
)

// swipeSet is the set of user ids a user has swiped, held by its actor for
// as long as it is active. A sorted []int64 costs 8 bytes per swipe; ids
// are dense (a bigserial), so a roaring bitmap holds a thousand swipes in
// about 2 KB. Ids past 2³²-1 (not reached by a bigserial for a long while,
// but possible) go to a small sorted slice beside it, so that no id is ever
// truncated into another.
type swipeSet struct {
	low  *roaring.Bitmap
	high []int64 // ascending, each > math.MaxUint32
}

func newSwipeSet(ids []int64) swipeSet {
	s := swipeSet{low: roaring.New()}
	lows := make([]uint32, 0, len(ids))
	for _, id := range ids {
		switch {
		case id < 0:
			// Never stored (ids are positive); ignored rather than
			// aliased onto a real id.
		case id <= math.MaxUint32:
			lows = append(lows, uint32(id))
		default:
			s.high = append(s.high, id)
		}
	}
	s.low.AddMany(lows)
	s.low.RunOptimize()
	slices.Sort(s.high)
	s.high = slices.Compact(s.high)
	return s
}

func (s *swipeSet) has(id int64) bool {
	switch {
	case id < 0:
		return false
	case id <= math.MaxUint32:
		return s.low != nil && s.low.Contains(uint32(id))
	default:
		_, found := slices.BinarySearch(s.high, id)
		return found
	}
}

func (s *swipeSet) add(id int64) {
	switch {
	case id < 0:
	case id <= math.MaxUint32:
		if s.low == nil {
			s.low = roaring.New()
		}
		s.low.Add(uint32(id))
	default:
		if i, found := slices.BinarySearch(s.high, id); !found {
			s.high = slices.Insert(s.high, i, id)
		}
	}
}

func (s *swipeSet) remove(id int64) {
	switch {
	case id < 0:
	case id <= math.MaxUint32:
		if s.low != nil {
			s.low.Remove(uint32(id))
		}
	default:
		if i, found := slices.BinarySearch(s.high, id); found {
			s.high = slices.Delete(s.high, i, i+1)
		}
	}
}

func (s *swipeSet) len() int {
	n := len(s.high)
	if s.low != nil {
		n += int(s.low.GetCardinality())
	}
	return n
}
