// Command swiperctl is the Swiper operator's tool.
//
//	swiperctl migrate                      create the database if missing and migrate it
//	swiperctl seed -users N [-seed S] [-swipes K [-swipers M]] [-likers L]
//	                                        bulk-load N realistic users and L demo likers
//	swiperctl check                        exit 0 if PostgreSQL and Redis answer
//	swiperctl ranking rebuild              rebuild the hot ranking from PostgreSQL
//	swiperctl admin-token                  print the dev admin token as an export line
//	swiperctl login PHONE|USER_ID          print export lines of a token for that user
//	swiperctl listen [-until EVENT]        print a user's WebSocket frames
//
// It reads SWIPER_DATABASE_URL, SWIPER_REDIS_URL and SWIPER_REDIS_PREFIX
// (defaults as API.md), and finds the node at SWIPER_API_URL and
// SWIPER_ADMIN_URL (defaults: the addresses make run serves on).
package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/swiperhq/swiper/internal/config"
	"github.com/swiperhq/swiper/store/postgres"
	"github.com/swiperhq/swiper/store/redis"
)

const usage = `usage: swiperctl <command> [flags]

commands:
  migrate                          create the database if missing and migrate it
  seed -users N [-seed S] [-if-empty] [-swipes K [-swipers M]] [-likers L]
                                   bulk-load N realistic demo users (migrates first) and
                                   L (default 6) demo likers, who like everyone back
  check [-quiet] [-only postgres|redis]
                                   exit 0 if PostgreSQL and Redis answer
  ranking rebuild                  rebuild the hot ranking in Redis from the swipes in
                                   PostgreSQL (swiperd also does it every SWIPER_RANKING_REBUILD)

talking to a running node (docs/walkthrough.sh shows them in use):
  admin-token [-raw]               print "export ADMIN_TOKEN=…": SWIPER_ADMIN_TOKEN,
                                   else the token make run keeps in .dev/admin-token
  login [-raw] PHONE|USER_ID       print "export TOKEN=… USER_ID=…" for that user, minted
                                   with the admin token (a new phone is registered)
  listen [-after SEQ] [-until EVENT [-user ID]] [-timeout D]
                                   print the WebSocket frames of $TOKEN's user, one a line

environment: SWIPER_DATABASE_URL, SWIPER_REDIS_URL, SWIPER_REDIS_PREFIX (defaults as API.md);
SWIPER_API_URL, SWIPER_ADMIN_URL (defaults http://127.0.0.1:8080, http://127.0.0.1:9090);
SWIPER_ADMIN_TOKEN; TOKEN (listen)
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	cfg := config.Defaults()
	if v := os.Getenv("SWIPER_DATABASE_URL"); v != "" {
		cfg.DatabaseURL = v
	}
	if v := os.Getenv("SWIPER_REDIS_URL"); v != "" {
		cfg.RedisURL = v
	}
	if v, ok := os.LookupEnv("SWIPER_REDIS_PREFIX"); ok {
		cfg.RedisPrefix = v
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "migrate":
		_, err = migrated(ctx, cfg.DatabaseURL)
	case "seed":
		err = seed(ctx, cfg, args)
	case "check":
		err = check(ctx, cfg, args)
	case "admin-token":
		err = adminTokenCmd(args)
	case "login":
		err = login(ctx, cfg, args)
	case "listen":
		err = listen(ctx, args)
	case "ranking":
		err = ranking(ctx, cfg, args)
	case "help", "-h", "-help", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprintf(os.Stderr, "swiperctl: unknown command %q\n\n%s", cmd, usage)
		os.Exit(2)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "swiperctl:", err)
		os.Exit(1)
	}
}

// migrated opens the database, creating and migrating it as needed.
func migrated(ctx context.Context, dsn string) (*postgres.DB, error) {
	if err := postgres.EnsureDatabase(ctx, dsn); err != nil {
		return nil, err
	}
	db, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func seed(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("seed", flag.ExitOnError)
	n := fs.Int("users", 1000, "how many users to create")
	s := fs.Uint64("seed", 1, "random seed: the same seed gives the same users")
	ifEmpty := fs.Bool("if-empty", false, "do nothing if the database already has users")
	swipes := fs.Int("swipes", 0, "swipes per swiping user: each swipes the first of its own recommendations")
	swipers := fs.Int("swipers", 0, "how many of the new users swipe, the first ones (0: all of them)")
	likers := fs.Int("likers", postgres.DefaultLikers, "demo likers to make: each fits one of the first seeded users and superlikes everyone, and a dev node likes back whoever likes one")
	fs.Parse(args)
	if *n < 1 {
		return fmt.Errorf("seed: -users must be at least 1")
	}
	if *swipes < 0 || *swipers < 0 || *likers < 0 {
		return fmt.Errorf("seed: -swipes, -swipers and -likers must not be negative")
	}
	db, err := migrated(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if *ifEmpty {
		var any bool
		if err := db.GetContext(ctx, &any, `SELECT EXISTS (SELECT 1 FROM users)`); err != nil {
			return err
		}
		if any {
			fmt.Println("seed: the database already has users; nothing to do")
			return nil
		}
	}
	res, err := postgres.Seed(ctx, db, postgres.SeedOptions{Users: *n, Seed: *s, Swipes: *swipes, Swipers: *swipers, Likers: *likers})
	if err != nil {
		return err
	}
	fmt.Printf("seeded %d users in %s (%.0f users/s); phones %s … %s\n",
		res.Users, res.Elapsed.Round(time.Millisecond), float64(res.Users)/res.Elapsed.Seconds(), res.FirstPhone, res.LastPhone)
	for _, ph := range res.Phases {
		fmt.Printf("  %-8s %s\n", ph.Name, ph.Elapsed.Round(time.Millisecond))
	}
	if res.Swipes > 0 {
		fmt.Printf("seeded %d swipes\n", res.Swipes)
	}
	if len(res.Likers) > 0 {
		fmt.Printf("demo likers (they like everyone back):\n")
		for _, l := range res.Likers {
			fmt.Printf("  user %d %s %q, fits %s\n", l.ID, l.Phone, l.Nickname, l.For)
		}
	}
	return nil
}

func check(ctx context.Context, cfg config.Config, args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	quiet := fs.Bool("quiet", false, "print nothing")
	only := fs.String("only", "", "check only postgres or only redis")
	fs.Parse(args)
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if *only != "redis" {
		// The server answers if we can reach its maintenance database; the
		// Swiper database itself may not exist yet.
		db, err := postgres.Open(ctx, postgres.WithDatabase(cfg.DatabaseURL, "postgres"))
		if err != nil {
			return err
		}
		db.Close()
	}
	if *only != "postgres" {
		rdb, err := redis.Open(ctx, cfg.RedisURL)
		if err != nil {
			return fmt.Errorf("redis %s: %w", redactURL(cfg.RedisURL), err)
		}
		rdb.Close()
	}
	if !*quiet {
		fmt.Println("ok")
	}
	return nil
}

func ranking(ctx context.Context, cfg config.Config, args []string) error {
	if len(args) != 1 || args[0] != "rebuild" {
		return fmt.Errorf("usage: swiperctl ranking rebuild")
	}
	db, err := postgres.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	rdb, err := redis.Open(ctx, cfg.RedisURL)
	if err != nil {
		return fmt.Errorf("redis %s: %w", redactURL(cfg.RedisURL), err)
	}
	defer rdb.Close()
	r := redis.NewRanking(rdb, cfg.RedisPrefix)
	defer r.Close()
	start := time.Now()
	n, err := r.Rebuild(ctx, func(ctx context.Context, each func(uid, score int64) error) error {
		return postgres.RankingScores(ctx, db, each)
	})
	if err != nil {
		return err
	}
	fmt.Printf("ranking rebuilt: %d users in %s\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}

// redactURL hides a URL's password, for messages.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable url)"
	}
	return u.Redacted()
}
