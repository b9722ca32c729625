// Package cos keeps avatar images in Tencent Cloud Object Storage, through
// the official SDK (github.com/tencentyun/cos-go-sdk-v5), and names them by
// a CDN in front of the bucket.
//
// The SDK's own retries are off (one attempt per call) and every call has a
// timeout: retry policy, backoff and their metrics belong to the uploader
// actors' supervisor, not to a loop hidden in a client library.
//
// It depends on the root package and the COS SDK.
package cos

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	cossdk "github.com/tencentyun/cos-go-sdk-v5"

	"github.com/swiperhq/swiper"
)

// Options configure a Store.
type Options struct {
	BucketURL string // https://<bucket>-<appid>.cos.<region>.myqcloud.com
	SecretID  string
	SecretKey string
	CDNBase   string        // public URLs are CDNBase/key
	Timeout   time.Duration // per call (SWIPER_STORAGE_TIMEOUT); required
}

// Store is a COS bucket.
type Store struct {
	client  *cossdk.Client
	cdn     string
	timeout time.Duration
}

var _ swiper.ObjectStore = (*Store)(nil)

// New returns a Store for the bucket.
func New(o Options) (*Store, error) {
	u, err := url.Parse(o.BucketURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return nil, swiper.Errorf(swiper.EBadRequest, "SWIPER_COS_BUCKET_URL %q is not a URL", o.BucketURL)
	}
	if o.Timeout <= 0 {
		return nil, swiper.Errorf(swiper.EBadRequest, "cos: the timeout (%v) must be positive", o.Timeout)
	}
	transport := &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
	}
	c := cossdk.NewClient(&cossdk.BaseURL{BucketURL: u}, &http.Client{
		Timeout:   o.Timeout,
		Transport: &cossdk.AuthorizationTransport{SecretID: o.SecretID, SecretKey: o.SecretKey, Transport: transport},
	})
	c.Conf.RetryOpt.Count = 1
	return &Store{client: c, cdn: strings.TrimRight(o.CDNBase, "/"), timeout: o.Timeout}, nil
}

// Put uploads data under key, with headers that let a CDN keep it for
// ever (the key changes when the content does).
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	const op = "cos.Put"
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	_, err := s.client.Object.Put(ctx, key, bytes.NewReader(data), &cossdk.ObjectPutOptions{
		ObjectPutHeaderOptions: &cossdk.ObjectPutHeaderOptions{
			ContentType:   "image/jpeg",
			CacheControl:  "public, max-age=31536000, immutable",
			ContentLength: int64(len(data)),
		},
	})
	if err != nil {
		return swiper.Unavailable(op, err)
	}
	return nil
}

// Delete removes the object at key. COS answers 204 whether or not it was
// there; a 404 (a bucket that says so) is a deletion done too.
func (s *Store) Delete(ctx context.Context, key string) error {
	const op = "cos.Delete"
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if _, err := s.client.Object.Delete(ctx, key); err != nil && !cossdk.IsNotFoundError(err) {
		return swiper.Unavailable(op, err)
	}
	return nil
}

// URL returns the CDN URL of key.
func (s *Store) URL(key string) string { return s.cdn + "/" + key }
