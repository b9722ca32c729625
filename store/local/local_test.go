package local_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/local"
)

func TestPut(t *testing.T) {
	dir := t.TempDir()
	s := &local.Store{Dir: dir, BaseURL: "http://127.0.0.1:8080/media/"}
	key := swiper.AvatarKey(42, "9f86d0")
	data := []byte("\xff\xd8\xff jpeg bytes")
	for range 2 { // a repeated Put is harmless
		if err := s.Put(context.Background(), key, data); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(filepath.Join(dir, "avatars", "42", "9f86d0.jpg"))
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("stored %q, %v; want %q", got, err, data)
	}
	left, _ := filepath.Glob(filepath.Join(dir, "avatars", "42", ".upload-*"))
	if len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if u := s.URL(key); u != "http://127.0.0.1:8080/media/avatars/42/9f86d0.jpg" {
		t.Errorf("URL = %q", u)
	}
	for _, bad := range []string{"../etc/passwd", "/abs", "a/../../b", "a//b", ""} {
		if err := s.Put(context.Background(), bad, data); err == nil {
			t.Errorf("Put(%q) succeeded", bad)
		}
	}
}

func TestPutUnwritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	os.WriteFile(file, nil, 0o644)
	s := &local.Store{Dir: file} // a file, not a directory
	if err := s.Put(context.Background(), "avatars/1/x.jpg", []byte("x")); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Errorf("Put under a file: %v; want unavailable", err)
	}
}
