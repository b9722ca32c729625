package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/asynkron/protoactor-go/cluster"

	"github.com/swiperhq/swiper/actors/placement"
	"github.com/swiperhq/swiper/actors/user"
)

// node is one swiperd that failover runs itself.
type node struct {
	name, http, admin, cluster string
	env                        []string
	log                        string

	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// start runs the node's swiperd, its output appended to its log.
func (n *node) start(swiperd string) error {
	out, err := os.OpenFile(n.log, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(swiperd)
	cmd.Env = append(os.Environ(), n.env...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	n.cmd, n.done = cmd, make(chan struct{})
	// Ends when the process exits: killed by failover, or on its own.
	go func() {
		cmd.Wait()
		out.Close()
		close(n.done)
	}()
	return nil
}

func (n *node) running() bool {
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// stop ends the node with SIGTERM, and SIGKILL after 15 s.
func (n *node) stop() {
	if !n.running() {
		return
	}
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(15 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// getJSON GETs an admin path into v and returns the status.
func getJSON(url, token string, v any) (int, error) {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	st, body, err := send(req)
	if err != nil {
		return 0, err
	}
	if st == 200 && v != nil {
		return st, json.Unmarshal(body, v)
	}
	return st, nil
}

// aliveMembers returns the node names that the node at adminAddr sees alive.
func aliveMembers(adminAddr, token string) ([]string, error) {
	var c struct {
		Members []struct {
			Node  string
			Alive bool
		}
	}
	st, err := getJSON(adminAddr+"/admin/v1/cluster", token, &c)
	if err != nil || st != 200 {
		return nil, fmt.Errorf("cluster view: %d %v", st, err)
	}
	var names []string
	for _, m := range c.Members {
		if m.Alive {
			names = append(names, m.Node)
		}
	}
	slices.Sort(names)
	return names, nil
}

// waitFor polls cond every 50 ms until it holds or d has passed.
func waitFor(d time.Duration, what string, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %s", what, d)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil
}

// probeResult is what probing one user after a kill saw.
type probeResult struct {
	firstOK  time.Duration // since the kill: the first 200
	served   time.Duration // since the kill: the 200 after the last failure
	failures map[string]int
	maxLat   time.Duration
}

// failoverLoad starts three swiperd nodes on etcd, then kills one at a
// time with SIGKILL and measures how long its users go unserved: users it
// hosted are probed through the survivors (GET /api/v1/recommendations,
// which goes through the user's actor) until every one is answered 200
// and stays so. The victim is restarted and must be a member again before
// the next kill.
func failoverLoad(args []string) error {
	fs := flag.NewFlagSet("failover", flag.ExitOnError)
	swiperd := fs.String("swiperd", "bin/swiperd", "the swiperd binary to run three of")
	httpAddrs := fs.String("http", "127.0.0.1:18081,127.0.0.1:18082,127.0.0.1:18083", "the nodes' client API listen addresses")
	adminAddrs := fs.String("admin-addrs", "127.0.0.1:19091,127.0.0.1:19092,127.0.0.1:19093", "the nodes' admin API listen addresses")
	clusterAddrs := fs.String("cluster", "127.0.0.1:17101,127.0.0.1:17102,127.0.0.1:17103", "the nodes' cluster transport addresses")
	etcd := fs.String("etcd", os.Getenv("SWIPER_ETCD_ENDPOINTS"), "etcd endpoints (SWIPER_ETCD_ENDPOINTS)")
	name := fs.String("cluster-name", fmt.Sprintf("swiperload-%d", os.Getpid()), "the cluster's name (etcd key prefix)")
	logs := fs.String("logs", os.TempDir(), "directory for the nodes' logs (nodeN.log)")
	adminToken := fs.String("admin-token", os.Getenv("SWIPER_ADMIN_TOKEN"), "admin token (given to the nodes too)")
	users := fs.Int("users", 3000, "find the victim's users among users 1..users")
	probes := fs.Int("probe", 200, "probe at most this many of the victim's users")
	kills := fs.Int("kills", 5, "how many kills (victims in turn node1, node2, node3, node1…)")
	window := fs.Duration("window", 20*time.Second, "give up on a user not served again within this")
	settle := fs.Duration("settle", 2*time.Second, "after every probed user is served, keep probing this long (a failure then counts: served is after the last failure)")
	fs.Parse(args)
	if *etcd == "" {
		return errors.New("failover needs -etcd or SWIPER_ETCD_ENDPOINTS")
	}
	if *adminToken == "" {
		return errors.New("failover needs -admin-token or SWIPER_ADMIN_TOKEN")
	}
	hs, as, cs := strings.Split(*httpAddrs, ","), strings.Split(*adminAddrs, ","), strings.Split(*clusterAddrs, ",")
	if len(hs) != 3 || len(as) != 3 || len(cs) != 3 {
		return errors.New("-http, -admin-addrs and -cluster take three addresses each")
	}
	nodes := make([]*node, 3)
	for i := range nodes {
		n := &node{name: fmt.Sprintf("node%d", i+1), http: "http://" + hs[i], admin: "http://" + as[i], cluster: cs[i]}
		n.log = filepath.Join(*logs, n.name+".log")
		n.env = []string{
			"SWIPER_NODE=" + n.name, "SWIPER_CLUSTER_PROVIDER=etcd", "SWIPER_CLUSTER_NAME=" + *name,
			"SWIPER_CLUSTER_ADDR=" + cs[i], "SWIPER_ETCD_ENDPOINTS=" + *etcd,
			"SWIPER_HTTP_ADDR=" + hs[i], "SWIPER_ADMIN_ADDR=" + as[i], "SWIPER_ADMIN_TOKEN=" + *adminToken,
		}
		nodes[i] = n
	}
	defer func() {
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Add(1)
			go func() { defer wg.Done(); n.stop() }()
		}
		wg.Wait()
	}()
	interrupted := make(chan os.Signal, 1)
	signal.Notify(interrupted, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(interrupted)
	stopped := func() bool {
		select {
		case <-interrupted:
			return true
		default:
			return false
		}
	}

	for _, n := range nodes {
		if err := n.start(*swiperd); err != nil {
			return err
		}
	}
	all := []string{"node1", "node2", "node3"}
	member := func(n *node, want []string) bool {
		got, err := aliveMembers(n.admin, *adminToken)
		return err == nil && slices.Equal(got, want)
	}
	ready := func(n *node) bool {
		st, _ := getJSON(n.http+"/readyz", "", nil)
		return st == 200
	}
	for _, n := range nodes {
		if err := waitFor(60*time.Second, n.name+" ready and seeing three members", func() bool { return ready(n) && member(n, all) }); err != nil {
			return fmt.Errorf("%w (log: %s)", err, n.log)
		}
	}
	fmt.Printf("three nodes up (cluster %s on etcd %s, logs in %s)\n", *name, *etcd, *logs)
	tokens, err := adminTokens(nodes[0].admin, *adminToken, *users)
	if err != nil {
		return err
	}

	var gaps, firsts []time.Duration
	codes := map[string]int{}
	for k := 0; k < *kills && !stopped(); k++ {
		victim := nodes[k%3]
		var survivors []*node
		for _, n := range nodes {
			if n != victim {
				survivors = append(survivors, n)
			}
		}
		// Which users the victim hosts: asking activates each on its owner.
		var mine []int
		findFails := map[string]int{} // calls that failed while the cluster was whole
		var mu sync.Mutex
		sem := make(chan struct{}, 32)
		var wg sync.WaitGroup
		for u := 1; u <= *users; u++ {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				var a struct{ Node string }
				req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/admin/v1/users/%d/actor", nodes[u%3].admin, u), nil)
				req.Header.Set("Authorization", "Bearer "+*adminToken)
				st, body, err := send(req)
				mu.Lock()
				defer mu.Unlock()
				if err != nil || st != 200 {
					findFails[failure(st, body, err)]++
					return
				}
				if json.Unmarshal(body, &a) == nil && a.Node == victim.name {
					mine = append(mine, u)
				}
			}()
		}
		wg.Wait()
		slices.Sort(mine)
		hosted := len(mine)
		if len(findFails) > 0 {
			fmt.Printf("kill %d: before it, with three members, %d of %d admin actor views failed: %v\n", k+1, sum(findFails), *users, findFails)
			for c, n := range findFails {
				codes["before the kill: "+c] += n
			}
		}
		mine = mine[:min(len(mine), *probes)]
		if len(mine) == 0 {
			return fmt.Errorf("kill %d: %s hosts none of users 1..%d", k+1, victim.name, *users)
		}

		// Probe from before the kill, so the first failure is seen; a
		// failure before it counts too (the healthy cluster's fault).
		results := make([]probeResult, len(mine))
		var killedAt time.Time
		var rmu sync.Mutex // guards results and killedAt
		ctx, cancel := context.WithCancel(context.Background())
		var pwg sync.WaitGroup
		for i, u := range mine {
			results[i] = probeResult{firstOK: -1, served: -1, failures: map[string]int{}}
			pwg.Add(1)
			// Ends when cancel is called, after every probed user is served.
			go func() {
				defer pwg.Done()
				at := survivors[i%2].http
				for ctx.Err() == nil {
					req, _ := http.NewRequestWithContext(ctx, http.MethodGet, at+"/api/v1/recommendations?limit=1", nil)
					req.Header.Set("Authorization", "Bearer "+tokens[u-1])
					t0 := time.Now()
					st, body, err := send(req)
					if ctx.Err() != nil {
						return
					}
					rmu.Lock()
					r := &results[i]
					r.maxLat = max(r.maxLat, time.Since(t0))
					switch {
					case st != 200:
						r.served = -1
						r.failures[failure(st, body, err)]++
					case killedAt.IsZero() || t0.Before(killedAt):
						// Answered by the cluster before the kill.
					case r.firstOK < 0:
						r.firstOK, r.served = time.Since(killedAt), time.Since(killedAt)
					case r.served < 0:
						r.served = time.Since(killedAt)
					}
					rmu.Unlock()
					time.Sleep(10 * time.Millisecond) // pace the probe: this measures, it does not synchronise
				}
			}()
		}
		time.Sleep(300 * time.Millisecond) // let the probes start: this measures, it does not synchronise
		rmu.Lock()
		killedAt = time.Now()
		victim.cmd.Process.Kill()
		rmu.Unlock()
		<-victim.done
		// When the survivors stop listing the victim.
		droppedAt := make(chan time.Duration, 1)
		// Ends within -window.
		go func() {
			others := slices.DeleteFunc(slices.Clone(all), func(s string) bool { return s == victim.name })
			if waitFor(*window, "dropped", func() bool { return member(survivors[0], others) }) == nil {
				droppedAt <- time.Since(killedAt)
			}
			close(droppedAt)
		}()
		served := func() bool {
			rmu.Lock()
			defer rmu.Unlock()
			for i := range results {
				if results[i].served < 0 {
					return false
				}
			}
			return true
		}
		err := waitFor(*window, "every probed user served again", served)
		if err == nil {
			time.Sleep(*settle) // keep probing: a failure after being served counts
		}
		cancel()
		pwg.Wait()
		dropped := <-droppedAt

		var gap, first, lat time.Duration
		unserved := 0
		fails := map[string]int{}
		for _, r := range results {
			if r.served < 0 {
				unserved++
			}
			gap, first, lat = max(gap, r.served), max(first, r.firstOK), max(lat, r.maxLat)
			for c, n := range r.failures {
				fails[c] += n
				codes[c] += n
			}
		}
		fmt.Printf("kill %d: %s (hosting %d of users 1..%d, %d probed through %s and %s): dropped by the survivors at %.2fs; all served again at %.2fs (first 200s by %.2fs); slowest probe %s; failed probes %v",
			k+1, victim.name, hosted, *users, len(mine), survivors[0].name, survivors[1].name,
			dropped.Seconds(), gap.Seconds(), first.Seconds(), lat.Round(time.Millisecond), fails)
		if unserved > 0 {
			fmt.Printf("; %d users NOT served again within %s", unserved, *window)
		}
		fmt.Println()
		if unserved == 0 {
			gaps, firsts = append(gaps, gap), append(firsts, first)
		}
		for _, n := range survivors {
			if !n.running() {
				return fmt.Errorf("kill %d: survivor %s exited (log: %s)", k+1, n.name, n.log)
			}
		}

		if err := victim.start(*swiperd); err != nil {
			return err
		}
		t0 := time.Now()
		if err := waitFor(60*time.Second, victim.name+" a member again", func() bool {
			return ready(victim) && member(victim, all) && member(survivors[0], all) && member(survivors[1], all)
		}); err != nil {
			return fmt.Errorf("%w (log: %s)", err, victim.log)
		}
		fmt.Printf("        %s restarted and a member again in %.2fs\n", victim.name, time.Since(t0).Seconds())
	}
	if len(gaps) == 0 {
		return errors.New("no kill measured")
	}
	slices.Sort(gaps)
	slices.Sort(firsts)
	fmt.Printf("failover over %d kills: all of a dead node's probed users served again p50 %.2fs max %.2fs (first 200 per user: p50 %.2fs max %.2fs); failed probes by status/code: %v\n",
		len(gaps), gaps[len(gaps)/2].Seconds(), gaps[len(gaps)-1].Seconds(), firsts[len(firsts)/2].Seconds(), firsts[len(firsts)-1].Seconds(), codes)
	return nil
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// failure names a failed call: its HTTP status and Swiper error code, or
// the transport error's kind.
func failure(st int, body []byte, err error) string {
	if err != nil {
		var ne interface{ Timeout() bool }
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "conn-error"
	}
	var e struct{ Error struct{ Code int } }
	json.Unmarshal(body, &e)
	return fmt.Sprintf("%d/%d", st, e.Error.Code)
}

// splitLoad reckons where users' actors go among members at the given
// cluster addresses, as every node computes it (placement.Owners).
func splitLoad(args []string) error {
	fs := flag.NewFlagSet("split", flag.ExitOnError)
	addrs := fs.String("cluster", "127.0.0.1:7101,127.0.0.1:7102,127.0.0.1:7103", "the members' cluster transport addresses")
	n := fs.Int("n", 100000, "users 1..n")
	fs.Parse(args)
	var members []*cluster.Member
	for _, a := range strings.Split(*addrs, ",") {
		host, port, _ := strings.Cut(a, ":")
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("%q: want host:port", a)
		}
		members = append(members, &cluster.Member{Id: "id-" + a, Host: host, Port: int32(p), Kinds: []string{user.Kind}})
	}
	owners := placement.Owners(slices.Values(members))
	count := map[string]int{}
	for u := 1; u <= *n; u++ {
		count[owners(cluster.NewClusterIdentity(strconv.Itoa(u), user.Kind))]++
	}
	for _, m := range members {
		a := m.Address()
		fmt.Printf("%s: %d users (%.2f %%)\n", a, count[a], 100*float64(count[a])/float64(*n))
	}
	return nil
}

// actorsLoad activates users 1..users through the admin APIs given (user
// u through the (u mod n)-th), as GET /admin/v1/users/{id}/actor does, and
// reports which node each landed on and each node's own actor counts.
func actorsLoad(args []string) error {
	fs := flag.NewFlagSet("actors", flag.ExitOnError)
	admins := fs.String("admin", "http://127.0.0.1:9090", "the nodes' admin APIs, comma-separated")
	adminToken := fs.String("admin-token", os.Getenv("SWIPER_ADMIN_TOKEN"), "admin token")
	users := fs.Int("users", 30000, "activate users 1..users")
	c := fs.Int("c", 32, "concurrent calls")
	fs.Parse(args)
	addrs := strings.Split(*admins, ",")
	placed := map[string]int{}
	var mu sync.Mutex
	sem := make(chan struct{}, *c)
	var wg sync.WaitGroup
	start := time.Now()
	for u := 1; u <= *users; u++ {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			var a struct{ Node string }
			st, err := getJSON(fmt.Sprintf("%s/admin/v1/users/%d/actor", addrs[u%len(addrs)], u), *adminToken, &a)
			mu.Lock()
			defer mu.Unlock()
			if err != nil || st != 200 {
				placed[failure(st, nil, err)]++
				return
			}
			placed[a.Node]++
		}()
	}
	wg.Wait()
	fmt.Printf("activated users 1..%d in %s; hosted by: %v\n", *users, time.Since(start).Round(time.Millisecond), placed)
	for _, a := range addrs {
		var r struct {
			Node            string
			Users, Sessions int
		}
		if st, err := getJSON(a+"/admin/v1/actors", *adminToken, &r); err != nil || st != 200 {
			return fmt.Errorf("%s/admin/v1/actors: %d %v", a, st, err)
		}
		fmt.Printf("%s (%s): %d user actors (%.2f %% of %d)\n", r.Node, a, r.Users, 100*float64(r.Users)/float64(*users), *users)
	}
	return nil
}
