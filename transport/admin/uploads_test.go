package admin_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/swiperhq/swiper"
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
	if r.status != 200 {
		t.Fatalf("GET uploads: %d %s; want one failed job", r.status, r.raw)
	}
	jobs := decode[admin.JobsReply](t, r).Jobs
	if len(jobs) != 1 {
		t.Fatalf("GET uploads: %d %s; want one failed job", r.status, r.raw)
	}
	got := jobs[0]
	if got.ID != j.ID || got.UserID != u.ID || got.Status != "failed" ||
		got.Attempts != 1 || got.Error == nil || *got.Error != swiper.UploadFailedMessage ||
		got.LastError == nil || *got.LastError != "cos.Put: 500 InternalError" || got.URL != nil {
		t.Errorf("failed job %+v", got)
	}
	if r := h.do("GET", "/admin/v1/uploads?status=done", adminToken, ""); r.status != 200 || len(decode[admin.JobsReply](t, r).Jobs) != 0 {
		t.Errorf("GET done uploads: %d %s; want none", r.status, r.raw)
	}
	for _, q := range []string{"status=lost", "limit=0", "limit=x"} {
		if r := h.do("GET", "/admin/v1/uploads?"+q, adminToken, ""); r.status != 400 || r.errCode() != int(swiper.EBadRequest) {
			t.Errorf("GET uploads?%s: %d %s; want 400 / 1100", q, r.status, r.raw)
		}
	}

	r = h.do("POST", fmt.Sprintf("/admin/v1/uploads/%d/retry", j.ID), adminToken, "")
	if r.status != 200 {
		t.Fatalf("retry: %d %s; want the job pending with attempts reset", r.status, r.raw)
	}
	if job := decode[admin.JobReply](t, r).Job; job.Status != "pending" || job.Attempts != 0 || job.UserID != u.ID {
		t.Fatalf("retry: %d %s; want the job pending with attempts reset", r.status, r.raw)
	}
	if h.kicks.Load() != 1 {
		t.Errorf("%d kicks; want 1", h.kicks.Load())
	}
	if r := h.do("POST", "/admin/v1/uploads/999999/retry", adminToken, ""); r.status != 404 || r.errCode() != int(swiper.ENotFound) {
		t.Errorf("retry unknown: %d %s; want 404", r.status, r.raw)
	}
	if r := h.do("GET", "/admin/v1/uploads", "", ""); r.status != 401 || r.errCode() != int(swiper.ELoginRequired) {
		t.Errorf("no token: %d %s; want 401", r.status, r.raw)
	}
}
