package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/swiperhq/swiper/store/postgres/pgtest"
	"github.com/swiperhq/swiper/store/redis/redistest"
	"github.com/swiperhq/swiper/transport/ws"
)

// TestWalkthrough runs docs/walkthrough.sh, the README's walkthrough, top
// to bottom with bash against a node started as make run starts one: a
// fresh database seeded with the demo users, then swiperd with an admin
// token kept in .dev/admin-token. The script runs in a directory laid out
// like the repository root (bin/, .dev/, docs/), so it is the very script
// a reader runs, and it must end in a match seen on the WebSocket.
func TestWalkthrough(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("the walkthrough needs curl (apt-get install curl)")
	}
	root := t.TempDir()
	for _, d := range []string{"bin", ".dev", "docs"} {
		if err := os.Mkdir(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctl := filepath.Join(root, "bin", "swiperctl")
	if out, err := exec.Command("go", "build", "-o", ctl, "../swiperctl").CombinedOutput(); err != nil {
		t.Fatalf("build swiperctl: %v\n%s", err, out)
	}
	avatar, err := os.ReadFile("../../docs/demo-avatar.jpg")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "docs", "demo-avatar.jpg"), avatar, 0o644); err != nil {
		t.Fatal(err)
	}

	// make run: services (.dev/env.sh), seed once, then the node.
	dbURL := pgtest.NewEmptyDatabase(t)
	env := "export SWIPER_DATABASE_URL='" + dbURL + "'\nexport SWIPER_REDIS_URL='" + redistest.URL() + "'\n"
	if err := os.WriteFile(filepath.Join(root, ".dev", "env.sh"), []byte(env), 0o644); err != nil {
		t.Fatal(err)
	}
	seed := exec.Command(ctl, "seed", "-users", "5000", "-if-empty")
	seed.Env = append(os.Environ(), "SWIPER_DATABASE_URL="+dbURL)
	if out, err := seed.CombinedOutput(); err != nil {
		t.Fatalf("seed: %v\n%s", err, out)
	}
	_, prefix := redistest.MustOpen(t)
	n := startNode(t, dbURL, prefix, "SWIPER_MEDIA_DIR="+t.TempDir())
	if err := os.WriteFile(filepath.Join(root, ".dev", "admin-token"), []byte(n.adminTok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	script, err := filepath.Abs("../../docs/walkthrough.sh")
	if err != nil {
		t.Fatal(err)
	}
	checkReadmeShows(t, script)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", script)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "SWIPER_API_URL="+n.client, "SWIPER_ADMIN_URL="+n.admin,
		"SWIPER_ADMIN_TOKEN=", "TOKEN=", "SWIPER_DATABASE_URL=", "SWIPER_REDIS_URL=")
	out, err := cmd.CombinedOutput()
	t.Logf("walkthrough output:\n%s", out)
	if err != nil {
		t.Fatalf("bash docs/walkthrough.sh: %v", err)
	}

	m := regexp.MustCompile(`first: user (\d+), second: user (\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatal("the walkthrough never said whom it swipes")
	}
	sid, _ := strconv.ParseInt(string(m[1]), 10, 64)
	other, _ := strconv.ParseInt(string(m[2]), 10, 64)
	if !strings.Contains(string(out), `"rewound":{"sid":`+strconv.FormatInt(other, 10)+`,"mark":"dislike"}`) {
		t.Errorf("no rewind of the dislike of user %d in the output", other)
	}
	if !strings.Contains(string(out), `"matched":true`) {
		t.Errorf(`the like back did not answer "matched":true`)
	}
	// The listener prints each frame on a line of its own.
	var matches int
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var f struct {
			ws.EventFrame
			Data struct {
				Friend struct {
					ID int64 `json:"id"`
				} `json:"friend"`
			} `json:"data"`
		}
		if json.Unmarshal(sc.Bytes(), &f) != nil || f.Type != "event" || f.Event != "match" {
			continue
		}
		if f.Data.Friend.ID != sid {
			t.Errorf("match frame with user %d; want %d", f.Data.Friend.ID, sid)
		}
		matches++
	}
	if matches != 1 {
		t.Errorf("saw %d match frames on the socket; want 1", matches)
	}
}

// checkReadmeShows checks that README.md shows the walkthrough's lines, so
// what a reader pastes from it is what this test runs.
func checkReadmeShows(t *testing.T, script string) {
	t.Helper()
	src, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	shown := map[string]bool{}
	for _, l := range strings.Split(string(readme), "\n") {
		shown[l] = true
	}
	_, body, ok := strings.Cut(string(src), "set -euo pipefail\n")
	if !ok {
		t.Fatal("docs/walkthrough.sh does not set -euo pipefail")
	}
	for _, l := range strings.Split(body, "\n") {
		if l != "" && !shown[l] {
			t.Errorf("README.md does not show this line of docs/walkthrough.sh:\n%s", l)
		}
	}
}
