package main

// The commands that talk to a running node over its APIs, for people
// trying Swiper out (docs/walkthrough.sh) and for support: admin-token,
// login and listen. They print shell export lines so that
// `eval "$(swiperctl login +9990000000000)"` sets $TOKEN without jq.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/swiperhq/swiper"
	"github.com/swiperhq/swiper/internal/config"
	"github.com/swiperhq/swiper/internal/wire"
	"github.com/swiperhq/swiper/store/postgres"
)

// The addresses of the node's two listeners, as `make run` starts it.
const (
	defaultAPIURL   = "http://127.0.0.1:8080"
	defaultAdminURL = "http://127.0.0.1:9090"
	// devAdminTokenFile is where `make run` keeps the dev admin token,
	// relative to the repository root (SWIPER_DEV_DIR moves .dev/).
	devAdminTokenFile = ".dev/admin-token"
)

// adminTokenFile is the default of the -file flags.
func adminTokenFile() string {
	if d := os.Getenv("SWIPER_DEV_DIR"); d != "" {
		return filepath.Join(d, "admin-token")
	}
	return devAdminTokenFile
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func apiURL() string   { return strings.TrimSuffix(envOr("SWIPER_API_URL", defaultAPIURL), "/") }
func adminURL() string { return strings.TrimSuffix(envOr("SWIPER_ADMIN_URL", defaultAdminURL), "/") }

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// adminToken is SWIPER_ADMIN_TOKEN, else the token `make run` gave the node.
func adminToken(file string) (string, error) {
	if v := os.Getenv("SWIPER_ADMIN_TOKEN"); v != "" {
		return v, nil
	}
	b, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("no admin token: SWIPER_ADMIN_TOKEN is not set and %s does not exist (make run writes it; run swiperctl from the repository root)", file)
	}
	if err != nil {
		return "", err
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", fmt.Errorf("no admin token: %s is empty", file)
	}
	return tok, nil
}

func adminTokenCmd(args []string) error {
	fs := flag.NewFlagSet("admin-token", flag.ExitOnError)
	raw := fs.Bool("raw", false, "print the token alone, not an export line")
	file := fs.String("file", adminTokenFile(), "the file make run keeps the dev admin token in")
	fs.Parse(args)
	tok, err := adminToken(*file)
	if err != nil {
		return err
	}
	if *raw {
		fmt.Println(tok)
	} else {
		fmt.Printf("export ADMIN_TOKEN=%s\n", shellQuote(tok))
	}
	return nil
}

// apiError is the error body every non-2xx response has (API.md, "Errors").
type apiError struct {
	Error struct {
		Code    int    `json:"code"`
		Name    string `json:"name"`
		Message string `json:"message"`
	} `json:"error"`
}

// call sends a JSON request and decodes a 2xx JSON reply into out. Any
// other status becomes an error that carries the API's code and message.
func call(ctx context.Context, method, url, token string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w (is swiperd running? make run starts it)", method, url, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	if resp.StatusCode/100 != 2 {
		var e apiError
		if json.Unmarshal(data, &e) == nil && e.Error.Code != 0 {
			return fmt.Errorf("%s %s: %s: %d %s: %s", method, url, resp.Status, e.Error.Code, e.Error.Name, e.Error.Message)
		}
		return fmt.Errorf("%s %s: %s", method, url, resp.Status)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	return nil
}

// login gives a token for a user, named by phone or by id, without an SMS
// code: the operator's token asks the node for one (POST
// /admin/v1/users/{id}/token). A phone is found in PostgreSQL and, like a
// first login, registered if it is new.
func login(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("login", flag.ExitOnError)
	raw := fs.Bool("raw", false, "print the token alone, not export lines")
	file := fs.String("file", adminTokenFile(), "the file make run keeps the dev admin token in")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: swiperctl login [-raw] PHONE|USER_ID")
		fs.PrintDefaults()
	}
	fs.Parse(args)
	if fs.NArg() != 1 {
		fs.Usage()
		os.Exit(2)
	}
	who := fs.Arg(0)
	tok, err := adminToken(*file)
	if err != nil {
		return err
	}
	var id int64
	if strings.HasPrefix(who, "+") {
		if !swiper.ValidPhone(who) {
			return fmt.Errorf("login: %q is not an E.164 phone number such as +9990000000000", who)
		}
		db, err := postgres.Open(ctx, cfg.DatabaseURL)
		if err != nil {
			return fmt.Errorf("login: %w (source .dev/env.sh first for make run's database)", err)
		}
		u, created, err := postgres.NewUserStore(db).LoginPhone(ctx, who)
		db.Close()
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		if created {
			fmt.Fprintf(os.Stderr, "swiperctl: registered %s as a new user\n", who)
		}
		id = u.ID
	} else if id, err = strconv.ParseInt(who, 10, 64); err != nil || id < 1 {
		return fmt.Errorf("login: %q is neither a phone (+…) nor a user id", who)
	}
	var minted struct {
		Token string `json:"token"`
	}
	if err := call(ctx, http.MethodPost, fmt.Sprintf("%s/admin/v1/users/%d/token", adminURL(), id), tok, nil, &minted); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	// The token works on the client API: say who it is, which proves it.
	var me wire.Me
	if err := call(ctx, http.MethodGet, apiURL()+"/api/v1/me", minted.Token, nil, &me); err != nil {
		return fmt.Errorf("login: %w", err)
	}
	fmt.Fprintf(os.Stderr, "swiperctl: logged in as user %d: %s\n", me.User.ID, describe(me.User))
	if *raw {
		fmt.Println(minted.Token)
		return nil
	}
	fmt.Printf("export TOKEN=%s\nexport USER_ID=%d\n", shellQuote(minted.Token), me.User.ID)
	return nil
}

// describe says who u is in a few words: "Lin W., female, 27, Shanghai, VIP 0".
func describe(u wire.User) string {
	parts := []string{u.Nickname}
	if u.Sex != nil {
		parts = append(parts, *u.Sex)
	}
	if u.Age != nil {
		parts = append(parts, strconv.Itoa(*u.Age))
	}
	if u.Location != "" {
		parts = append(parts, u.Location)
	}
	return strings.Join(append(parts, fmt.Sprintf("VIP %d", u.VIPLevel)), ", ")
}

// listen opens the WebSocket as the user of a token and prints every frame,
// one JSON object a line, until it is interrupted, the -timeout passes, or
// the -until event arrives.
func listen(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("listen", flag.ExitOnError)
	token := fs.String("token", os.Getenv("TOKEN"), "the user's token (default $TOKEN)")
	after := fs.Int64("after", -1, "replay the events after this seq first (resume); -1: only live events")
	until := fs.String("until", "", "stop after the first event of this type (match, superliked, unmatched, avatar.ready, …)")
	user := fs.Int64("user", 0, "with -until: only an event about this user (the friend of a match, …)")
	timeout := fs.Duration("timeout", 0, "give up after this long (0: never); with -until, failing")
	fs.Parse(args)
	if *token == "" {
		return errors.New("listen: no token: set TOKEN (eval \"$(swiperctl login PHONE)\") or pass -token")
	}
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	url := "ws" + strings.TrimPrefix(apiURL(), "http") + "/api/v1/ws"
	dialer := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	conn, resp, err := dialer.DialContext(ctx, url, http.Header{"Authorization": {"Bearer " + *token}})
	if err != nil {
		if resp != nil {
			return fmt.Errorf("listen: %s: %s", url, resp.Status)
		}
		return fmt.Errorf("listen: %w", err)
	}
	defer conn.Close()
	fmt.Fprintf(os.Stderr, "swiperctl: listening on %s\n", url)
	if *after >= 0 {
		if err := conn.WriteJSON(map[string]any{"type": "resume", "after": *after}); err != nil {
			return fmt.Errorf("listen: %w", err)
		}
	}
	// Closing the connection ends the blocked read below: when ctx is done
	// (interrupt or -timeout), or when listen returns.
	done := make(chan struct{})
	defer close(done)
	// Stopped by ctx or by listen returning (done).
	go func() {
		select {
		case <-ctx.Done():
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			conn.Close()
		case <-done:
		}
	}()
	for {
		_, msg, err := conn.ReadMessage()
		if err != nil {
			switch {
			case errors.Is(ctx.Err(), context.DeadlineExceeded) && *until != "":
				return fmt.Errorf("listen: no %s event within %s", *until, *timeout)
			case ctx.Err() != nil:
				return nil // interrupted, or the -timeout of a plain listen
			}
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				return fmt.Errorf("listen: the server closed the socket: %d %s", ce.Code, ce.Text)
			}
			return fmt.Errorf("listen: %w", err)
		}
		fmt.Println(string(msg))
		if *until != "" && isEvent(msg, *until, *user) {
			conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
			return nil
		}
	}
}

// isEvent reports whether frame is an event of type typ about user (any
// user when user is 0).
func isEvent(frame []byte, typ string, user int64) bool {
	var f struct {
		Type  string `json:"type"`
		Event string `json:"event"`
		Data  struct {
			Friend *wire.User `json:"friend"`  // match
			User   *wire.User `json:"user"`    // superliked
			UserID int64      `json:"user_id"` // unmatched
		} `json:"data"`
	}
	if json.Unmarshal(frame, &f) != nil || f.Type != "event" || f.Event != typ {
		return false
	}
	if user == 0 {
		return true
	}
	switch {
	case f.Data.Friend != nil:
		return f.Data.Friend.ID == user
	case f.Data.User != nil:
		return f.Data.User.ID == user
	default:
		return f.Data.UserID == user
	}
}
