package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/postgres/pgtest"
)

// TestSeedIfEmpty runs swiperctl as make run does: on an empty server
// database it creates and migrates the database and seeds it; run again it
// leaves the users alone.
func TestSeedIfEmpty(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "swiperctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	// A database name that does not exist yet: swiperctl must create it.
	url := pgtest.NewEmptyDatabase(t)
	admin, err := postgres.Open(t.Context(), postgres.WithDatabase(url, "postgres"))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	name := strings.TrimPrefix(strings.SplitN(url[strings.LastIndex(url, "/"):], "?", 2)[0], "/")
	if _, err := admin.Exec(`DROP DATABASE ` + name); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) string {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "SWIPER_DATABASE_URL="+url)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("swiperctl %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	if out := run("seed", "-users", "300", "-if-empty"); !strings.Contains(out, "seeded 300 users") ||
		!strings.Contains(out, "demo likers (they like everyone back)") || !strings.Contains(out, postgres.DemoLikerPhone(0)) {
		t.Fatalf("first seed said %q; want the users and the demo likers", out)
	}
	if out := run("seed", "-users", "300", "-if-empty"); !strings.Contains(out, "nothing to do") {
		t.Fatalf("second seed said %q", out)
	}
	db, err := postgres.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 300+postgres.DefaultLikers {
		t.Fatalf("users = %d, %v; want 300 and %d demo likers", n, err, postgres.DefaultLikers)
	}
	// Without -if-empty, on top: the likers are kept, not made again.
	if out := run("seed", "-users", "10"); !strings.Contains(out, "seeded 10 users") {
		t.Fatalf("third seed said %q", out)
	}
	if err := db.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 310+postgres.DefaultLikers {
		t.Fatalf("users = %d, %v; want 310 and %d demo likers", n, err, postgres.DefaultLikers)
	}
	if out := run("check"); !strings.Contains(out, "ok") {
		t.Fatalf("check said %q", out)
	}
}
