// Package local keeps avatar images as files under a directory, for a node
// (or nodes sharing a volume) that serves them itself at /media/. It is the
// default object store.
//
// It depends on the root package only.
package local

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/swiperhq/swiper"
)

// Store writes objects as files under Dir; BaseURL is where Dir is served.
type Store struct {
	Dir     string
	BaseURL string
}

var _ swiper.ObjectStore = (*Store)(nil)

// Put writes data to Dir/key atomically: into a temporary file, synced,
// then renamed, so a reader (or a crash) never sees half a file.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	const op = "local.Put"
	if !validKey(key) {
		return swiper.Internal(op, fmt.Errorf("bad object key %q", key))
	}
	if err := ctx.Err(); err != nil {
		return swiper.Unavailable(op, err)
	}
	dst := filepath.Join(s.Dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return swiper.Unavailable(op, err)
	}
	f, err := os.CreateTemp(filepath.Dir(dst), ".upload-*")
	if err != nil {
		return swiper.Unavailable(op, err)
	}
	defer os.Remove(f.Name()) // after a successful rename, a no-op
	if _, err := f.Write(data); err != nil {
		f.Close()
		return swiper.Unavailable(op, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return swiper.Unavailable(op, err)
	}
	if err := f.Close(); err != nil {
		return swiper.Unavailable(op, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return swiper.Unavailable(op, err)
	}
	if err := ctx.Err(); err != nil {
		// Abandoned meanwhile (its lease lost): a late file would outlive
		// an account's deletion of the key.
		return swiper.Unavailable(op, err)
	}
	if err := os.Rename(f.Name(), dst); err != nil {
		return swiper.Unavailable(op, err)
	}
	return nil
}

// Delete removes Dir/key; a file that is not there is deleted already.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "local.Delete"
	if !validKey(key) {
		return swiper.Internal(op, fmt.Errorf("bad object key %q", key))
	}
	if err := ctx.Err(); err != nil {
		return swiper.Unavailable(op, err)
	}
	err := os.Remove(filepath.Join(s.Dir, filepath.FromSlash(key)))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return swiper.Unavailable(op, err)
	}
	return nil
}

// URL returns BaseURL/key.
func (s *Store) URL(key string) string {
	return strings.TrimRight(s.BaseURL, "/") + "/" + key
}

// validKey accepts clean relative slash paths only: no "..", no leading
// slash, nothing a path cleaning would change.
func validKey(key string) bool {
	return key != "" && !strings.HasPrefix(key, "/") && path.Clean(key) == key &&
		!strings.HasPrefix(key, "../") && key != ".." && !strings.Contains(key, "\\")
}
