// Package actors is the home of Swiper's protoactor-go actors: one
// subpackage per kind (actors/user for the user grains, actors/upload for
// the avatar uploaders, actors/actorpb for their generated messages).
//
// Actors depend on the root package only; cmd/ gives them their stores.
package actors
