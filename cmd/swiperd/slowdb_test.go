package main

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/testkit"
	"github.com/swiperhq/swiper/store/postgres"
)

// TestSlowDatabaseAnswers503: swiperd's database cancels statements after
// a second (statement_timeout, set in the URL as an operator would); a
// profile update that waits that long behind a lock held elsewhere gets
// 503 / 1108 (retry later), not 500. Once the lock goes, the same request
// succeeds.
func TestSlowDatabaseAnswers503(t *testing.T) {
	ctx := context.Background()
	dbURL, db, prefix, tokens := stores(t)
	u, _, err := postgres.NewUserStore(db).LoginPhone(ctx, "+8613700009999")
	if err != nil {
		t.Fatal(err)
	}
	token, err := tokens.NewToken(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	sep := "?"
	if strings.Contains(dbURL, "?") {
		sep = "&"
	}
	n := startNode(t, dbURL+sep+"statement_timeout=1000", prefix)

	tx, err := db.Beginx()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`SELECT FROM users WHERE id = $1 FOR UPDATE`, u.ID); err != nil {
		t.Fatal(err)
	}
	st, body := patchMe(t, n.client, token)
	if st != http.StatusServiceUnavailable || body.Code != swiper.EUnavailable {
		t.Fatalf("PATCH /me behind a held row lock: %d %+v; want 503 with code %d", st, body, swiper.EUnavailable)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if st, body := patchMe(t, n.client, token); st != http.StatusOK {
		t.Fatalf("PATCH /me once the lock is gone: %d %+v; want 200", st, body)
	}
}

func patchMe(t *testing.T, base, token string) (int, swiper.ErrorBody) {
	t.Helper()
	r, err := testkit.Do(nil, "PATCH", base+"/api/v1/me", token, `{"nickname":"Slow"}`)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Error swiper.ErrorBody `json:"error"`
	}
	json.Unmarshal(r.Raw, &out)
	return r.Status, out.Error
}
