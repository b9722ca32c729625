package cos_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/store/cos"
	"github.com/swiperhq/swiper/store/cos/costest"
)

func newStore(t *testing.T, f *costest.Server) *cos.Store {
	t.Helper()
	s, err := cos.New(cos.Options{BucketURL: f.URL, SecretID: "id", SecretKey: "key",
		CDNBase: "https://cdn.example/", Timeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPutThroughTheSDK(t *testing.T) {
	f := costest.New(t)
	s := newStore(t, f)
	key := swiper.AvatarKey(42, "abc123")
	data := bytes.Repeat([]byte("jpeg"), 1000)
	if err := s.Put(context.Background(), key, data); err != nil {
		t.Fatal(err)
	}
	if got := f.Object(key); !bytes.Equal(got, data) {
		t.Errorf("stored %d bytes; want %d", len(got), len(data))
	}
	if u := s.URL(key); u != "https://cdn.example/avatars/42/abc123.jpg" {
		t.Errorf("URL = %q", u)
	}
}

// TestFaultsAreSingleAttempts: every fault surfaces as one failed call
// (the SDK does not retry behind our back), bounded by the timeout.
func TestFaultsAreSingleAttempts(t *testing.T) {
	f := costest.New(t)
	s := newStore(t, f)
	for _, fault := range []string{costest.Fail, costest.Reset, costest.Hang} {
		t.Run(fault, func(t *testing.T) {
			f.SetFault(func(int) string { return fault })
			before := f.Puts()
			start := time.Now()
			err := s.Put(context.Background(), "avatars/1/"+fault+".jpg", []byte("x"))
			if swiper.ErrorCode(err) != swiper.EUnavailable {
				t.Fatalf("Put under %s: %v; want unavailable", fault, err)
			}
			if n := f.Puts() - before; n != 1 {
				t.Errorf("%d attempts; want 1 (the SDK must not retry)", n)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Put under %s took %v; want it bounded by the 500 ms timeout", fault, d)
			}
		})
	}
}
