package user_test

import (
	"context"
	"errors"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/swiperhq/swiper"
)

// These fakes keep in memory what store/postgres and store/redis keep, as
// far as the user grain's rules need it: they are for unit tests of the
// grain, not a model of the database layer.

type pair struct{ uid, sid int64 }

// memStore is a swiper.SocialStore and swiper.UserStore in memory.
type memStore struct {
	mu      sync.Mutex
	users   map[int64]*swiper.User
	swipes  map[pair]swiper.Swipe
	friends map[pair]time.Time // uid < sid
	rewinds map[int64]map[time.Time]int
	stored  []swiper.Swipe // every swipe stored, in order
	blocks  map[pair]bool  // uid blocked sid
	// userReads counts the reads of a user (the VIP gate's re-reads).
	userReads int
}

var (
	_ swiper.SocialStore = (*memStore)(nil)
	_ swiper.UserStore   = (*memStore)(nil)
)

func newMemStore(users ...swiper.User) *memStore {
	m := &memStore{users: map[int64]*swiper.User{}, swipes: map[pair]swiper.Swipe{},
		friends: map[pair]time.Time{}, rewinds: map[int64]map[time.Time]int{}}
	for _, u := range users {
		m.users[u.ID] = &u
	}
	return m
}

func (m *memStore) add(u swiper.User) {
	m.mu.Lock()
	m.users[u.ID] = &u
	m.mu.Unlock()
}

func friendKey(a, b int64) pair { return pair{min(a, b), max(a, b)} }

func (m *memStore) setVIP(uid int64, level int) {
	m.mu.Lock()
	m.users[uid].VIPLevel = level
	m.mu.Unlock()
}

// put stores a swipe as another activation of s.UID would.
func (m *memStore) put(s swiper.Swipe) {
	m.mu.Lock()
	m.swipes[pair{s.UID, s.SID}] = s
	m.mu.Unlock()
}

func (m *memStore) storedSwipes() []swiper.Swipe {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.stored)
}

func (m *memStore) LoadSocial(_ context.Context, uid int64, day, _ time.Time) (*swiper.SocialState, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[uid]
	if !ok {
		return nil, swiper.NoSuchUser("mem.LoadSocial")
	}
	st := &swiper.SocialState{VIPLevel: u.VIPLevel, Day: day, RewindsUsed: m.rewinds[uid][day]}
	for k, s := range m.swipes {
		if k.uid == uid {
			st.Swiped = append(st.Swiped, k.sid)
			if s.At.After(st.LastAt) {
				st.LastAt = s.At
			}
		}
	}
	for k := range m.friends {
		if k.uid == uid {
			st.Friends = append(st.Friends, k.sid)
		} else if k.sid == uid {
			st.Friends = append(st.Friends, k.uid)
		}
	}
	slices.Sort(st.Swiped)
	slices.Sort(st.Friends)
	return st, nil
}

func (m *memStore) Swipe(_ context.Context, s swiper.Swipe) (swiper.SwipeOutcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[s.SID]; !ok {
		return swiper.SwipeOutcome{}, swiper.InvalidSID("mem.Swipe")
	}
	if old, ok := m.swipes[pair{s.UID, s.SID}]; ok {
		if old.Mark != s.Mark {
			// As store/postgres words it today; the grain answers with
			// the one message.
			return swiper.SwipeOutcome{}, &swiper.Error{Code: swiper.EAlreadySwiped, Op: "mem.Swipe", Message: "you already swiped this user"}
		}
		_, matched := m.friends[friendKey(s.UID, s.SID)]
		out := swiper.SwipeOutcome{Replayed: true, At: old.At, Matched: matched && s.Mark.Likes()}
		if out.Matched {
			out.Them = m.public(s.SID)
		}
		return out, nil
	}
	if s.Mark == swiper.Superlike && s.SuperlikeLimit > 0 {
		n := 0
		for k, o := range m.swipes {
			if k.uid == s.UID && o.Mark == swiper.Superlike && !o.At.Before(s.DayStart) {
				n++
			}
		}
		if n >= s.SuperlikeLimit {
			return swiper.SwipeOutcome{}, swiper.SuperlikeLimit("mem.Swipe", 0)
		}
	}
	m.swipes[pair{s.UID, s.SID}] = s
	m.stored = append(m.stored, s)
	out := swiper.SwipeOutcome{At: s.At}
	if back, ok := m.swipes[pair{s.SID, s.UID}]; ok && back.Mark.Likes() && s.Mark.Likes() {
		m.friends[friendKey(s.UID, s.SID)] = s.At
		out.Matched, out.Me, out.Them = true, m.public(s.UID), m.public(s.SID)
	}
	return out, nil
}

func (m *memStore) public(uid int64) *swiper.User {
	u := *m.users[uid]
	return &swiper.User{ID: u.ID, Nickname: u.Nickname, VIPLevel: u.VIPLevel}
}

func (m *memStore) LastSwipe(_ context.Context, uid int64) (*swiper.Swipe, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var last *swiper.Swipe
	for k, s := range m.swipes {
		if k.uid == uid && (last == nil || s.At.After(last.At)) {
			last = &s
		}
	}
	return last, nil
}

func (m *memStore) Rewind(_ context.Context, s swiper.Swipe, day time.Time, limit int) (swiper.RewindOutcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.swipes[pair{s.UID, s.SID}]; !ok {
		return swiper.RewindOutcome{}, swiper.NothingToRewind("mem.Rewind")
	}
	if m.rewinds[s.UID] == nil {
		m.rewinds[s.UID] = map[time.Time]int{}
	}
	if m.rewinds[s.UID][day] >= limit {
		return swiper.RewindOutcome{}, swiper.RewindLimit("mem.Rewind")
	}
	m.rewinds[s.UID][day]++
	delete(m.swipes, pair{s.UID, s.SID})
	out := swiper.RewindOutcome{Used: m.rewinds[s.UID][day]}
	if _, ok := m.friends[friendKey(s.UID, s.SID)]; ok {
		delete(m.friends, friendKey(s.UID, s.SID))
		out.Unmatched = true
	}
	return out, nil
}

func (m *memStore) Unmatch(_ context.Context, uid, fid int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.friends[friendKey(uid, fid)]; !ok {
		return swiper.NotFriend("mem.Unmatch")
	}
	delete(m.friends, friendKey(uid, fid))
	return nil
}

func (m *memStore) Block(_ context.Context, uid, bid int64) (swiper.BlockOutcome, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out swiper.BlockOutcome
	if _, ok := m.users[bid]; !ok || uid == bid {
		return out, swiper.InvalidSID("mem.Block")
	}
	if m.blocks == nil {
		m.blocks = map[pair]bool{}
	}
	m.blocks[pair{uid, bid}] = true
	for _, k := range []pair{{uid, bid}, {bid, uid}} {
		if s, ok := m.swipes[k]; ok {
			out.Removed = append(out.Removed, s)
			delete(m.swipes, k)
		}
	}
	if _, ok := m.friends[friendKey(uid, bid)]; ok {
		delete(m.friends, friendKey(uid, bid))
		out.Unmatched = true
	}
	return out, nil
}

func (m *memStore) Unblock(_ context.Context, uid, bid int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blocks, pair{uid, bid})
	return nil
}

func (m *memStore) Blocks(_ context.Context, uid int64) ([]swiper.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []swiper.User
	for k := range m.blocks {
		if k.uid == uid {
			out = append(out, *m.users[k.sid])
		}
	}
	return out, nil
}

func (m *memStore) BlockedWith(_ context.Context, uid int64) ([]int64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int64
	for k := range m.blocks {
		switch uid {
		case k.uid:
			out = append(out, k.sid)
		case k.sid:
			out = append(out, k.uid)
		}
	}
	return out, nil
}

func (m *memStore) Recommendations(_ context.Context, uid int64, _ time.Time, limit int) ([]swiper.Candidate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.users[uid]; !ok {
		return nil, swiper.NoSuchUser("mem.Recommendations")
	}
	var out []swiper.Candidate
	for _, id := range m.ids() {
		if _, swiped := m.swipes[pair{uid, id}]; id == uid || swiped || len(out) >= limit {
			continue
		}
		back, ok := m.swipes[pair{id, uid}]
		out = append(out, swiper.Candidate{User: *m.users[id], SuperlikedMe: ok && back.Mark == swiper.Superlike})
	}
	return out, nil
}

func (m *memStore) ids() []int64 {
	ids := make([]int64, 0, len(m.users))
	for id := range m.users {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (m *memStore) LikedMe(_ context.Context, uid int64, p swiper.Page) ([]swiper.Liker, *swiper.PageKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []swiper.Liker
	for k, s := range m.swipes {
		if _, answered := m.swipes[pair{uid, k.uid}]; k.sid == uid && s.Mark.Likes() && !answered {
			out = append(out, swiper.Liker{User: *m.users[k.uid], Mark: s.Mark, At: s.At})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out[:min(len(out), p.Limit)], nil, nil
}

func (m *memStore) Friends(_ context.Context, uid int64, p swiper.Page) ([]swiper.Friend, *swiper.PageKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []swiper.Friend
	for k, since := range m.friends {
		switch uid {
		case k.uid:
			out = append(out, swiper.Friend{User: *m.users[k.sid], Since: since})
		case k.sid:
			out = append(out, swiper.Friend{User: *m.users[k.uid], Since: since})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Since.After(out[j].Since) })
	var next *swiper.PageKey
	if len(out) > p.Limit {
		out = out[:p.Limit]
		next = &swiper.PageKey{At: out[p.Limit-1].Since, ID: out[p.Limit-1].ID}
	}
	return out, next, nil
}

func (m *memStore) Friend(_ context.Context, uid, fid int64) (*swiper.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.friends[friendKey(uid, fid)]; !ok {
		return nil, swiper.NotFriend("mem.Friend")
	}
	u := *m.users[fid]
	return &u, nil
}

func (m *memStore) User(_ context.Context, id int64) (*swiper.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.userReads++
	u, ok := m.users[id]
	if !ok {
		return nil, swiper.NoSuchUser("mem.User")
	}
	c := *u
	return &c, nil
}

func (m *memStore) reads() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.userReads
}

var errUnused = errors.New("not used by the user grain")

func (m *memStore) IsBanned(context.Context, int64) (bool, error) { return false, nil }

func (m *memStore) LoginPhone(context.Context, string) (*swiper.User, bool, error) {
	return nil, false, errUnused
}
func (m *memStore) Users(context.Context, []int64) ([]*swiper.User, error) { return nil, errUnused }
func (m *memStore) UpdateUser(context.Context, int64, *swiper.UserPatch, time.Time) (*swiper.User, error) {
	return nil, errUnused
}
func (m *memStore) SetVIP(context.Context, int64, int) (*swiper.User, error) { return nil, errUnused }

// memRanking is a swiper.Ranking in memory.
type memRanking struct {
	mu     sync.Mutex
	scores map[int64]int64
}

var _ swiper.Ranking = (*memRanking)(nil)

func (r *memRanking) AddScore(_ context.Context, uid, delta int64) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.scores == nil {
		r.scores = map[int64]int64{}
	}
	r.scores[uid] += delta
	return nil
}

func (r *memRanking) score(uid int64) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.scores[uid]
}

func (r *memRanking) Top(context.Context, int) ([]int64, []int64, error) { return nil, nil, nil }
