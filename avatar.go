package swiper

import (
	"context"
	"fmt"
)

// ObjectStore keeps avatar images where clients can fetch them
// (store/local, store/cos). Keys are content-addressed (AvatarKey), so a
// Put may be repeated after an unknown outcome: the same key gets the same
// bytes.
//
// Errors: EUnavailable when the storage fails or cannot be reached.
type ObjectStore interface {
	// Put stores data (a JPEG) under key.
	Put(ctx context.Context, key string, data []byte) error
	// URL returns the public URL of key.
	URL(key string) string
}

// AvatarKey is the object key of an avatar: per user, named by the
// SHA-256 (hex) of its bytes, so a new avatar never collides with an old
// one cached by a CDN, and the same image uploaded twice has one URL.
func AvatarKey(uid int64, sha256hex string) string {
	return fmt.Sprintf("avatars/%d/%s.jpg", uid, sha256hex)
}
