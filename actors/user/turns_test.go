package user

import (
	"context"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

// TestReadsTakeTurnsPerUser: one user's reads run ReadsPerUser at a time;
// the next waits until one is done or its deadline passes (EUnavailable),
// other users' reads are not held up, and nothing is left behind.
func TestReadsTakeTurnsPerUser(t *testing.T) {
	var tt turns
	ctx := context.Background()
	var done []func()
	for range ReadsPerUser {
		d, err := tt.take(ctx, 1)
		if err != nil {
			t.Fatalf("read within the limit: %v", err)
		}
		done = append(done, d)
	}

	// The deadline is what ends the wait: it passing is the assertion
	// that the read was held, not a synchronisation.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := tt.take(short, 1); swiper.ErrorCode(err) != swiper.EUnavailable {
		t.Fatalf("read beyond the limit: got %v, want EUnavailable once its deadline passes", err)
	}

	other, err := tt.take(ctx, 2)
	if err != nil {
		t.Fatalf("another user's read while user 1 is full: %v", err)
	}
	other()

	got := make(chan error, 1)
	// Ends when a slot of user 1 is given back below.
	go func() {
		d, err := tt.take(ctx, 1)
		if err == nil {
			d()
		}
		got <- err
	}()
	done[0]()
	select {
	case err := <-got:
		if err != nil {
			t.Fatalf("waiting read after a slot came back: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a waiting read did not run when a slot came back")
	}
	for _, d := range done[1:] {
		d()
	}
	if n := tt.waiting(); n != 0 {
		t.Fatalf("%d users still have entries after every read is done", n)
	}
}
