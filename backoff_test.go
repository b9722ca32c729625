package swiper_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
)

func TestBackoffDelayBounds(t *testing.T) {
	var r float64
	b := swiper.Backoff{Base: time.Second, Max: time.Minute, Rand: func() float64 { return r }}
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{1, 0.5, 500 * time.Millisecond},
		{2, 0.5, time.Second},
		{4, 0.999, 7992 * time.Millisecond},
		{7, 0.5, 30 * time.Second}, // 64 s window capped at 60 s
		{100, 0.5, 30 * time.Second},
		{math.MaxInt, 0.999, 59940 * time.Millisecond},
		{3, 0, 0},
		{0, 0.5, 500 * time.Millisecond},  // never below the first window
		{-5, 0.5, 500 * time.Millisecond}, // nor for nonsense
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.n, "/", tt.r), func(t *testing.T) {
			r = tt.r
			if got := b.Delay(tt.n); got != tt.want {
				t.Errorf("Delay(%d) with rand %v = %v; want %v", tt.n, tt.r, got, tt.want)
			}
		})
	}
	uncapped := swiper.Backoff{Base: time.Second, Rand: func() float64 { return 0.999999 }}
	if got := uncapped.Delay(200); got <= 0 {
		t.Errorf("uncapped Delay(200) = %v; want a huge positive wait, not an overflow", got)
	}
	if got := (swiper.Backoff{}).Delay(3); got != 0 {
		t.Errorf("zero Backoff Delay(3) = %v; want 0", got)
	}
}

// TestBackoffJitterRange draws real random waits: each falls in its
// window, and they spread over it rather than repeat.
func TestBackoffJitterRange(t *testing.T) {
	b := swiper.Backoff{Base: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	for n := 1; n <= 6; n++ {
		window := min(b.Max, b.Base<<(n-1))
		seen := map[time.Duration]bool{}
		var lo, hi time.Duration = window, 0
		for range 1000 {
			d := b.Delay(n)
			if d < 0 || d >= window {
				t.Fatalf("Delay(%d) = %v; want within [0, %v)", n, d, window)
			}
			seen[d] = true
			lo, hi = min(lo, d), max(hi, d)
		}
		// 1,000 uniform draws leave no gap of a tenth of the window at
		// either end but with odds of about 1e-46.
		if len(seen) < 900 || lo > window/10 || hi < window-window/10 {
			t.Errorf("Delay(%d) drew %d distinct waits in [%v, %v]; want them spread over [0, %v)", n, len(seen), lo, hi, window)
		}
	}
}

func TestBackoffWaitRespectsContext(t *testing.T) {
	half := func() float64 { return 0.5 }
	t.Run("waits when there is time", func(t *testing.T) {
		b := swiper.Backoff{Base: 2 * time.Millisecond, Rand: half}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := b.Wait(ctx, 1); err != nil {
			t.Fatalf("Wait = %v; want nil", err)
		}
	})
	t.Run("gives up at once before a deadline it would pass", func(t *testing.T) {
		b := swiper.Backoff{Base: time.Hour, Rand: half}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := b.Wait(ctx, 1)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Wait = %v; want %v", err, context.DeadlineExceeded)
		}
		if ctx.Err() != nil {
			t.Fatalf("Wait returned only when the deadline passed; want at once")
		}
	})
	t.Run("returns when the caller cancels", func(t *testing.T) {
		b := swiper.Backoff{Base: time.Hour, Rand: half}
		ctx, cancel := context.WithCancel(context.Background())
		// Ends at once: it only cancels.
		go cancel()
		if err := b.Wait(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v; want %v", err, context.Canceled)
		}
	})
	t.Run("an ended context never waits", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := (swiper.Backoff{}).Wait(ctx, 1); !errors.Is(err, context.Canceled) {
			t.Fatalf("Wait = %v; want %v", err, context.Canceled)
		}
	})
}
