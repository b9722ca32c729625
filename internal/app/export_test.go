package app

import swhttp "github.com/swiperhq/swiper/transport/http"

// LikesBack tells whether s, a client server's Social, has demo likers
// like back.
func LikesBack(s swhttp.Social) bool {
	_, ok := s.(*likeBack)
	return ok
}
