// Package swiper holds the domain of Swiper, a swipe-to-match dating backend:
// users and their profiles, swipes, friendships, run-time settings, the error
// codes of the wire contract, and the contracts of the stores that keep them.
//
// It depends on the standard library only. Adapters live in subpackages
// (store/postgres, store/redis, transport/http, actors/...) and talk to each
// other in the terms defined here; cmd/ wires them together.
package swiper
