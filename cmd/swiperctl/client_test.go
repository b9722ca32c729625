package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestIsEvent(t *testing.T) {
	const (
		match   = `{"type":"event","seq":2,"event":"match","data":{"friend":{"id":7,"nickname":"Mei"}}}`
		liked   = `{"type":"event","seq":3,"event":"superliked","data":{"user":{"id":8}}}`
		unmatch = `{"type":"event","seq":4,"event":"unmatched","data":{"user_id":7}}`
		resp    = `{"type":"response","id":"c1","result":{"event":"match"}}`
	)
	for _, c := range []struct {
		name, frame, typ string
		user             int64
		want             bool
	}{
		{"match, anyone", match, "match", 0, true},
		{"match with the friend", match, "match", 7, true},
		{"match with someone else", match, "match", 8, false},
		{"another type", match, "unmatched", 0, false},
		{"superliked by the user", liked, "superliked", 8, true},
		{"unmatched by the user", unmatch, "unmatched", 7, true},
		{"a response", resp, "match", 0, false},
		{"not JSON", "{", "match", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := isEvent([]byte(c.frame), c.typ, c.user); got != c.want {
				t.Errorf("isEvent(%s, %q, %d) = %v; want %v", c.frame, c.typ, c.user, got, c.want)
			}
		})
	}
}

// TestAdminTokenExport checks that what admin-token prints, evaluated by a
// shell, sets ADMIN_TOKEN to the token, from the environment or the file.
func TestAdminTokenExport(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "swiperctl")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, ".dev"), 0o755); err != nil {
		t.Fatal(err)
	}
	const fromFile = "from-the-file_0123"
	if err := os.WriteFile(filepath.Join(dir, ".dev", "admin-token"), []byte(fromFile+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, env, want string }{
		{"file", "", fromFile},
		{"environment", "it's $HOME", "it's $HOME"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("bash", "-c", `eval "$("$0" admin-token)" && printf %s "$ADMIN_TOKEN"`, bin)
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "SWIPER_ADMIN_TOKEN="+c.env)
			out, err := cmd.CombinedOutput()
			if err != nil || string(out) != c.want {
				t.Errorf("ADMIN_TOKEN = %q (%v); want %q", out, err, c.want)
			}
		})
	}
}
