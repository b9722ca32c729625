package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/wire/wiretest"
	"github.com/swiperhq/swiper/transport/admin"
)

func TestUploadsListAndRetry(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u, _, err := h.users.LoginPhone(ctx, "+8613900000001")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	j, err := h.uploads.CreateUpload(ctx, u.ID, swiper.AvatarKey(u.ID, "abc"), []byte("jpeg"), now)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.uploads.ClaimUploads(ctx, 1, time.Minute, now); err != nil {
		t.Fatal(err)
	}
	if ok, err := h.uploads.FailUpload(ctx, j.ID, 1, "cos.Put: 500 InternalError", now, true, now); !ok || err != nil {
		t.Fatalf("FailUpload = %v, %v", ok, err)
	}

	r := h.do("GET", "/admin/v1/uploads?status=failed", adminToken, "")
	if r.Status != 200 {
		t.Fatalf("GET uploads: %d %s; want one failed job", r.Status, r.Raw)
	}
	jobs := wiretest.Decode[admin.JobsReply](t, r.Raw).Jobs
	if len(jobs) != 1 {
		t.Fatalf("GET uploads: %d %s; want one failed job", r.Status, r.Raw)
	}
	got := jobs[0]
	if got.ID != j.ID || got.UserID != u.ID || got.Status != "failed" ||
		got.Attempts != 1 || got.Error == nil || *got.Error != swiper.UploadFailedMessage ||
		got.LastError == nil || *got.LastError != "cos.Put: 500 InternalError" || got.URL != nil {
		t.Errorf("failed job %+v", got)
	}
	if r := h.do("GET", "/admin/v1/uploads?status=done", adminToken, ""); r.Status != 200 || len(wiretest.Decode[admin.JobsReply](t, r.Raw).Jobs) != 0 {
		t.Errorf("GET done uploads: %d %s; want none", r.Status, r.Raw)
	}
	for _, q := range []string{"status=lost", "limit=0", "limit=x"} {
		if r := h.do("GET", "/admin/v1/uploads?"+q, adminToken, ""); r.Status != 400 || r.ErrorCode() != int(swiper.EBadRequest) {
			t.Errorf("GET uploads?%s: %d %s; want 400 / 1100", q, r.Status, r.Raw)
		}
	}

	r = h.do("POST", fmt.Sprintf("/admin/v1/uploads/%d/retry", j.ID), adminToken, "")
	if r.Status != 200 {
		t.Fatalf("retry: %d %s; want the job pending with attempts reset", r.Status, r.Raw)
	}
	if job := wiretest.Decode[admin.JobReply](t, r.Raw).Job; job.Status != "pending" || job.Attempts != 0 || job.UserID != u.ID {
		t.Fatalf("retry: %d %s; want the job pending with attempts reset", r.Status, r.Raw)
	}
	if h.kicks.Load() != 1 {
		t.Errorf("%d kicks; want 1", h.kicks.Load())
	}
	if r := h.do("POST", "/admin/v1/uploads/999999/retry", adminToken, ""); r.Status != 404 || r.ErrorCode() != int(swiper.ENotFound) {
		t.Errorf("retry unknown: %d %s; want 404", r.Status, r.Raw)
	}
	if r := h.do("GET", "/admin/v1/uploads", "", ""); r.Status != 401 || r.ErrorCode() != int(swiper.ELoginRequired) {
		t.Errorf("no token: %d %s; want 401", r.Status, r.Raw)
	}
}
