package imaging

import (
	"context"
	"errors"
	"image/color"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/swiperhq/swiper"
)

// BodySlack is what the multipart framing around an image may add to an
// upload's body: boundaries, part headers, other small fields.
const BodySlack = 64 << 10

// Budget bounds the memory that avatar uploads hold at once: the bodies
// being read and the images being decoded and re-encoded, in bytes.
//
// It keeps two pools, always taken in the same order (a body, then its
// decoding) and never the other way round, so no upload waits for a body
// share while holding a decoding share: a quarter of the budget for
// bodies, each weighed by its length (at most MaxBytes plus BodySlack),
// and the rest for decoding, weighed by Header.Cost. Waiting for either is
// bounded by Wait; then the caller gets EUnavailable with a Retry-After.
// The pools are FIFO: a large image waits its turn without being passed
// for ever by small ones.
type Budget struct {
	bodies, decode     *semaphore.Weighted
	bodyCap, decodeCap int64
	wait               time.Duration
	retryAfter         int
	inUse              atomic.Int64
}

// NewBudget returns a budget of total bytes (at least enough for one full
// body and a 12-megapixel photo) whose waits last at most wait.
func NewBudget(total int64, wait time.Duration) *Budget {
	bodyCap := max(total/4, MaxBytes+BodySlack)
	decodeCap := max(total-bodyCap, 100<<20)
	return &Budget{
		bodies: semaphore.NewWeighted(bodyCap), decode: semaphore.NewWeighted(decodeCap),
		bodyCap: bodyCap, decodeCap: decodeCap, wait: wait,
		retryAfter: max(1, int((wait+time.Second-1)/time.Second)),
	}
}

// InUse returns the bytes held now, bodies and decoding together.
func (b *Budget) InUse() int64 { return b.inUse.Load() }

// Body takes a share for a body of n bytes before it is read. release
// gives it back; call it exactly once (a deferred call also covers a
// panic).
func (b *Budget) Body(ctx context.Context, n int64) (release func(), err error) {
	return b.take(ctx, b.bodies, min(n, b.bodyCap), "http.uploadAvatar")
}

// Decode takes a share for decoding an image with header h. An image whose
// cost exceeds the whole decoding pool can never be decoded here: it is
// refused as EUnsupportedMedia at once.
func (b *Budget) Decode(ctx context.Context, h Header) (release func(), err error) {
	if h.Cost > b.decodeCap {
		return nil, swiper.FieldError(swiper.EUnsupportedMedia, "avatar",
			"the image is %d×%d pixels at %d bytes a pixel, more than this server decodes; send a smaller one",
			h.Width, h.Height, h.BytesPerPixel)
	}
	return b.take(ctx, b.decode, h.Cost, "imaging.Decode")
}

func (b *Budget) take(ctx context.Context, pool *semaphore.Weighted, n int64, op string) (func(), error) {
	ctx, cancel := context.WithTimeout(ctx, b.wait)
	defer cancel()
	if err := pool.Acquire(ctx, n); err != nil {
		e := swiper.Unavailable(op, err)
		e.Message = "too many avatars are being processed; retry shortly"
		if errors.Is(err, context.DeadlineExceeded) {
			e.RetryAfterSeconds = b.retryAfter
		}
		return nil, e
	}
	b.inUse.Add(n)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			b.inUse.Add(-n)
			pool.Release(n)
		}
	}, nil
}

// bytesPerPixel is what a decoded image of model m holds per pixel; for an
// unknown model, the most any decoder here uses.
func bytesPerPixel(m color.Model) int {
	switch m {
	case color.GrayModel:
		return 1
	case color.Gray16Model:
		return 2
	case color.YCbCrModel: // 4:4:4 at worst
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8 // RGBA64, NRGBA64
}
