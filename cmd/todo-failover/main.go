// Command todo-failover runs the failover scenario of `make failover`
// against the cluster scripts/with-patroni.sh starts (its TODO_HA_*
// variables): two replicas of the built server on the cluster, 8 clients
// creating, patching and listing tasks through them for 40 s; at 10 s the
// leader's postmaster is killed (SIGKILL); at 25 s, once a new leader
// serves, the whole Patroni node of the new leader's standby is killed and
// started again. Then it checks what a user must be able to count on and
// prints the figures:
//
//   - every create answered 201 is in the database, every PATCH answered
//     200 is visible (no acknowledged write lost: synchronous replication);
//
//   - no request took longer than its deadline, and every failed one was
//     503 with Retry-After;
//
//   - the service served again by itself (the time from the kill to the
//     first 201 after it);
//
//   - a change-feed cursor taken before the kill skips none of the tasks
//     created after it;
//
//   - a session revoked after the failover is refused by both replicas;
//
//   - the old leader rejoined the cluster as a standby.
//
//     scripts/with-patroni.sh go run ./cmd/todo-failover [-via proxy]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

type node struct{ name, pg, rest string }

type options struct {
	bin                     string
	via                     string
	duration, kill, kill2   time.Duration
	clients                 int
	dir, start              string
	nodes                   []node
	dbURL                   string
	connTimeout, stmtTimout time.Duration
	syncCost                bool
}

func main() {
	o := options{connTimeout: 2 * time.Second, stmtTimout: 3 * time.Second}
	flag.StringVar(&o.bin, "bin", "bin/todo-api", "the server binary")
	flag.StringVar(&o.via, "via", "url", "how the replicas reach the leader: url (multi-host, target_session_attrs=read-write) or proxy (HAProxy)")
	flag.DurationVar(&o.duration, "duration", 40*time.Second, "how long the clients run")
	flag.DurationVar(&o.kill, "kill", 10*time.Second, "when the leader's postmaster is killed")
	flag.DurationVar(&o.kill2, "kill2", 25*time.Second, "when the new leader's standby's whole node is killed (and started again)")
	flag.IntVar(&o.clients, "clients", 8, "concurrent clients")
	flag.BoolVar(&o.syncCost, "sync-cost", false, "measure instead what synchronous replication costs writes (creates and PATCHes per second with the standby synchronous, then asynchronous)")
	flag.Parse()
	o.dir, o.start = os.Getenv("TODO_HA_DIR"), os.Getenv("TODO_HA_START")
	for _, n := range strings.Fields(os.Getenv("TODO_HA_NODES")) {
		p := strings.Split(n, ":")
		if len(p) == 3 {
			o.nodes = append(o.nodes, node{p[0], p[1], p[2]})
		}
	}
	o.dbURL = os.Getenv("TODO_HA_URL")
	if o.via == "proxy" {
		o.dbURL = os.Getenv("TODO_HA_PROXY_URL")
	}
	if o.dir == "" || len(o.nodes) != 2 || o.dbURL == "" {
		fmt.Fprintln(os.Stderr, "todo-failover: run it under scripts/with-patroni.sh (make failover)")
		os.Exit(2)
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "todo-failover: FAILED:", err)
		os.Exit(1)
	}
	fmt.Println("todo-failover: every check passed")
}

// result is one request's outcome.
type result struct {
	op       string
	at       time.Time
	took     time.Duration
	status   int
	retry    string
	err      error
	taskID   int64
	version  int64
	replicaA bool
}

func run(o options) error {
	ctx := context.Background()
	secret := strings.Repeat("ab", 32)
	env := []string{"DATABASE_URL=" + o.dbURL, "JWT_SECRET_KEY=" + secret, "BCRYPT_COST=4", "AUTH_RATE_LIMIT=0",
		"REFRESH_RATE_LIMIT=0", "LOG_LEVEL=warn", "METRICS_ADDR=", "SHUTDOWN_DELAY=0s", "COOKIE_SECURE=false",
		fmt.Sprintf("DB_CONNECTION_TIMEOUT=%d", int(o.connTimeout.Seconds())), "DB_STATEMENT_TIMEOUT=" + o.stmtTimout.String(),
		"PATH=" + os.Getenv("PATH")}
	deadline := o.connTimeout + o.stmtTimout + 5*time.Second // the server's request timeout
	if out, err := command(o.bin, env, "migrate", "up").CombinedOutput(); err != nil {
		return fmt.Errorf("migrate up: %w: %s", err, out)
	}
	var replicas []string
	for i := range 2 {
		port, err := freePort()
		if err != nil {
			return err
		}
		srv := command(o.bin, append(env, "PORT="+strconv.Itoa(port)), "serve")
		log, err := os.Create(filepath.Join(o.dir, fmt.Sprintf("api%d.log", i+1)))
		if err != nil {
			return err
		}
		srv.Stdout, srv.Stderr = log, log
		if err := srv.Start(); err != nil {
			return err
		}
		defer func() { _ = srv.Process.Signal(syscall.SIGTERM); _ = srv.Wait() }()
		replicas = append(replicas, fmt.Sprintf("http://127.0.0.1:%d/api/v1", port))
	}
	for _, r := range replicas {
		if err := waitFor(30*time.Second, func() bool { return get(strings.TrimSuffix(r, "/api/v1")+"/readyz") == http.StatusOK }); err != nil {
			return fmt.Errorf("replica %s never became ready", r)
		}
	}
	c := &http.Client{Timeout: deadline + 5*time.Second}
	if s, _, err := call(c, http.MethodPost, replicas[0]+"/auth/register", "", `{"email":"failover@example.com","password":"correct-horse"}`); err != nil || s != http.StatusCreated {
		return fmt.Errorf("register: %d: %w", s, errors.Join(err, errors.New("not created")))
	}
	token, err := login(c, replicas[0])
	if err != nil {
		return err
	}
	doomed, err := login(c, replicas[1]) // revoked after the failover
	if err != nil {
		return err
	}
	cursor, err := feedCursor(c, replicas[0], token)
	if err != nil {
		return err
	}
	if o.syncCost {
		return syncCost(ctx, o, c, replicas, token)
	}

	// the load
	start := time.Now()
	var mu sync.Mutex
	var results []result
	record := func(r result) { mu.Lock(); results = append(results, r); mu.Unlock() }
	var wg sync.WaitGroup
	for i := range o.clients {
		wg.Go(func() {
			var mine []int64
			for n := 0; time.Since(start) < o.duration; n++ {
				base := replicas[(i+n)%2]
				var r result
				switch {
				case n%3 == 0 || len(mine) == 0:
					r = timed(c, "create", http.MethodPost, base+"/tasks", token, fmt.Sprintf(`{"title":"client %d task %d"}`, i, n))
					if r.status == http.StatusCreated {
						mine = append(mine, r.taskID)
					}
				case n%3 == 1:
					id := mine[n%len(mine)]
					r = timed(c, "patch", http.MethodPatch, fmt.Sprintf("%s/tasks/%d", base, id), token, fmt.Sprintf(`{"title":"client %d patch %d"}`, i, n))
				default:
					r = timed(c, "list", http.MethodGet, base+"/tasks?limit=5", token, "")
				}
				r.replicaA = base == replicas[0]
				record(r)
				if r.status == http.StatusServiceUnavailable || r.err != nil {
					time.Sleep(100 * time.Millisecond) // what Retry-After asks, roughly: a client backs off
				}
			}
		})
	}

	// the faults
	time.Sleep(o.kill)
	leader, err := leaderOf(o.nodes)
	if err != nil {
		return err
	}
	pm, err := postmasterPID(o.dir, leader.name)
	if err != nil {
		return err
	}
	killed := time.Now()
	if err := syscall.Kill(pm, syscall.SIGKILL); err != nil {
		return fmt.Errorf("kill the leader's postmaster %d: %w", pm, err)
	}
	fmt.Printf("%6.1fs  SIGKILL the postmaster (pid %d) of the leader %s\n", time.Since(start).Seconds(), pm, leader.name)
	time.Sleep(time.Until(start.Add(o.kill2)))
	var newLeader node
	if err := waitFor(30*time.Second, func() bool { l, err := leaderOf(o.nodes); newLeader = l; return err == nil }); err != nil {
		return errors.New("no leader serves 30 s after the kill")
	}
	standby := o.nodes[0]
	if standby.name == newLeader.name {
		standby = o.nodes[1]
	}
	patroniPID, err := pidFile(filepath.Join(o.dir, standby.name+".pid"))
	if err != nil {
		return err
	}
	pm2, _ := postmasterPID(o.dir, standby.name)
	_ = syscall.Kill(patroniPID, syscall.SIGKILL)
	if pm2 != 0 {
		_ = syscall.Kill(pm2, syscall.SIGKILL)
	}
	fmt.Printf("%6.1fs  SIGKILL the whole node %s (Patroni %d, postmaster %d), the standby of the new leader %s\n",
		time.Since(start).Seconds(), standby.name, patroniPID, pm2, newLeader.name)
	time.Sleep(3 * time.Second)
	if out, err := exec.Command(o.start, standby.name).CombinedOutput(); err != nil {
		return fmt.Errorf("start %s again: %w: %s", standby.name, err, out)
	}
	fmt.Printf("%6.1fs  node %s started again\n", time.Since(start).Seconds(), standby.name)
	wg.Wait()

	// the checks
	var problems []string
	fail := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	counts := map[string]map[int]int{}
	var created []int64
	acked := map[int64]int64{} // task -> the highest version a PATCH answered
	var slowest time.Duration
	firstAfter := time.Duration(-1)
	var lastFailure time.Time
	for _, r := range results {
		if counts[r.op] == nil {
			counts[r.op] = map[int]int{}
		}
		counts[r.op][r.status]++
		slowest = max(slowest, r.took)
		if r.took > deadline+time.Second {
			fail("%s took %s, past the request deadline %s", r.op, r.took, deadline)
		}
		switch {
		case r.err != nil:
			fail("%s failed without an answer: %v", r.op, r.err)
		case r.status == http.StatusServiceUnavailable:
			lastFailure = later(lastFailure, r.at)
			if r.retry == "" {
				fail("a 503 without Retry-After")
			}
		case r.status >= 300:
			lastFailure = later(lastFailure, r.at)
			fail("%s answered %d", r.op, r.status)
		case r.op == "create":
			created = append(created, r.taskID)
			if r.at.After(killed) && (firstAfter < 0 || r.at.Sub(killed) < firstAfter) {
				firstAfter = r.at.Add(r.took).Sub(killed)
			}
		case r.op == "patch":
			acked[r.taskID] = max(acked[r.taskID], r.version)
		}
	}
	db, err := connect(ctx, o.dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	rows, err := db.Query(ctx, `SELECT id, version FROM tasks`)
	if err != nil {
		return err
	}
	stored := map[int64]int64{}
	for rows.Next() {
		var id, v int64
		if err := rows.Scan(&id, &v); err != nil {
			return err
		}
		stored[id] = v
	}
	if err := rows.Err(); err != nil {
		return err
	}
	lost := 0
	for _, id := range created {
		if _, ok := stored[id]; !ok {
			lost++
		}
	}
	if lost > 0 {
		fail("%d of %d creates answered 201 are not in the database", lost, len(created))
	}
	stale := 0
	for id, v := range acked {
		if stored[id] < v {
			stale++
		}
	}
	if stale > 0 {
		fail("%d tasks are behind a version a PATCH answered 200", stale)
	}
	if firstAfter < 0 {
		fail("no create succeeded after the kill")
	}
	seen, err := feedSince(c, replicas[1], token, cursor)
	if err != nil {
		fail("the change feed from the cursor taken before the kill: %v", err)
	}
	missing := 0
	for _, id := range created {
		if !seen[id] {
			missing++
		}
	}
	if missing > 0 {
		fail("the change feed from the cursor taken before the kill skips %d of %d created tasks", missing, len(created))
	}
	revokedAt := time.Now()
	if s, _, err := call(c, http.MethodDelete, replicas[0]+"/auth/sessions", doomed, ""); err != nil || s != http.StatusNoContent {
		fail("log out everywhere after the failover: %d %v", s, err)
	}
	for i, r := range replicas {
		if err := waitFor(10*time.Second, func() bool {
			s, _, _ := call(c, http.MethodGet, r+"/auth/me", doomed, "")
			return s == http.StatusUnauthorized
		}); err != nil {
			fail("replica %d still accepts a session revoked after the failover", i+1)
		}
	}
	revocation := time.Since(revokedAt)
	// /readyz is 200 only while the replica listens for the database's
	// notifications: the LISTEN connection found the new leader by itself
	for i, r := range replicas {
		if err := waitFor(30*time.Second, func() bool { return get(strings.TrimSuffix(r, "/api/v1")+"/readyz") == http.StatusOK }); err != nil {
			fail("replica %d is not ready (not listening on the new leader?)", i+1)
		}
	}
	var cluster string
	if err := waitFor(90*time.Second, func() bool { cluster = rejoined(o.nodes, leader.name); return cluster != "" }); err != nil {
		fail("the old leader %s did not rejoin as a standby: %s", leader.name, clusterState(o.nodes))
	}

	// the figures
	fmt.Printf("\nfailover via %s, %d clients for %s, two replicas\n", o.via, o.clients, o.duration)
	ops := make([]string, 0, len(counts))
	for op := range counts {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	for _, op := range ops {
		var parts []string
		codes := make([]int, 0, len(counts[op]))
		for code := range counts[op] {
			codes = append(codes, code)
		}
		slices.Sort(codes)
		for _, code := range codes {
			parts = append(parts, fmt.Sprintf("%d x %d", counts[op][code], code))
		}
		fmt.Printf("  %-7s %s\n", op, strings.Join(parts, ", "))
	}
	fmt.Printf("  creates answered 201: %d, all in the database: %v (lost %d)\n", len(created), lost == 0, lost)
	fmt.Printf("  PATCHes answered 200 visible: %v (%d tasks checked)\n", stale == 0, len(acked))
	fmt.Printf("  slowest answer: %s (deadline %s)\n", slowest.Round(time.Millisecond), deadline)
	fmt.Printf("  from the kill to the first 201 after it: %s\n", firstAfter.Round(time.Millisecond))
	if !lastFailure.IsZero() {
		fmt.Printf("  last failed request: %s after the kill\n", lastFailure.Sub(killed).Round(time.Millisecond))
	}
	fmt.Printf("  change feed from the cursor before the kill: %d created tasks seen, %d missing\n", len(created)-missing, missing)
	fmt.Printf("  revocation after the failover refused on both replicas within %s; both listening again (/readyz 200)\n", revocation.Round(time.Millisecond))
	fmt.Printf("  cluster: %s\n", cluster)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func command(bin string, env []string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	return cmd
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func waitFor(limit time.Duration, cond func() bool) error {
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return errors.New("timed out")
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func get(u string) int {
	resp, err := http.Get(u) //nolint:gosec,noctx // a local health URL
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// send sends one JSON request (body "": none) with a bearer token ("":
// none) and reads the whole answer.
func send(c *http.Client, method, u, token, body string) (int, http.Header, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd) //nolint:noctx // the client's timeout bounds it
	if err != nil {
		return 0, nil, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b, err
}

func call(c *http.Client, method, u, token, body string) (int, []byte, error) {
	status, _, b, err := send(c, method, u, token, body)
	return status, b, err
}

// timed is one request of the load, timed, with the task it answered.
func timed(c *http.Client, op, method, u, token, body string) result {
	r := result{op: op, at: time.Now()}
	var h http.Header
	var b []byte
	r.status, h, b, r.err = send(c, method, u, token, body)
	r.took = time.Since(r.at)
	if r.err != nil {
		return r
	}
	r.retry = h.Get("Retry-After")
	var t struct{ ID, Version int64 }
	if json.Unmarshal(b, &t) == nil {
		r.taskID, r.version = t.ID, t.Version
	}
	return r
}

func login(c *http.Client, base string) (string, error) {
	resp, err := c.PostForm(base+"/auth/login", url.Values{"username": {"failover@example.com"}, "password": {"correct-horse"}})
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return "", fmt.Errorf("login: %d: %w", resp.StatusCode, errors.Join(err, errors.New("no access token")))
	}
	return body.AccessToken, nil
}

func feedCursor(c *http.Client, base, token string) (string, error) {
	s, b, err := call(c, http.MethodGet, base+"/changes", token, "")
	if err != nil || s != http.StatusOK {
		return "", fmt.Errorf("GET /changes: %d: %w", s, errors.Join(err, errors.New("no cursor")))
	}
	var page struct{ Cursor string }
	return page.Cursor, json.Unmarshal(b, &page)
}

// feedSince reads the change feed from cursor to its end: the tasks seen.
func feedSince(c *http.Client, base, token, cursor string) (map[int64]bool, error) {
	seen := map[int64]bool{}
	for range 1000 {
		s, b, err := call(c, http.MethodGet, base+"/changes?limit=1000&since="+url.QueryEscape(cursor), token, "")
		if err != nil || s != http.StatusOK {
			return seen, fmt.Errorf("GET /changes: %d %s: %w", s, b, errors.Join(err, errors.New("not 200")))
		}
		var page struct {
			Changes []struct {
				Entity string
				ID     int64
			}
			Cursor  string
			HasMore bool `json:"has_more"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return seen, err
		}
		for _, ch := range page.Changes {
			if ch.Entity == "task" {
				seen[ch.ID] = true
			}
		}
		cursor = page.Cursor
		if !page.HasMore {
			return seen, nil
		}
	}
	return seen, errors.New("the feed never ended")
}

func leaderOf(nodes []node) (node, error) {
	for _, n := range nodes {
		if get("http://127.0.0.1:"+n.rest+"/primary") == http.StatusOK {
			return n, nil
		}
	}
	return node{}, errors.New("no node is the primary")
}

func clusterState(nodes []node) string {
	for _, n := range nodes {
		resp, err := http.Get("http://127.0.0.1:" + n.rest + "/cluster") //nolint:gosec,noctx // a local URL
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return string(bytes.TrimSpace(b))
	}
	return "(no Patroni answers)"
}

// rejoined describes the cluster when old is a running standby of it, "" otherwise.
func rejoined(nodes []node, old string) string {
	var c struct {
		Members []struct {
			Name, Role, State string
			Lag               any
		}
	}
	if json.Unmarshal([]byte(clusterState(nodes)), &c) != nil {
		return ""
	}
	var parts []string
	ok := false
	for _, m := range c.Members {
		parts = append(parts, fmt.Sprintf("%s %s (%s)", m.Name, m.Role, m.State))
		if m.Name == old && m.State == "running" && (m.Role == "sync_standby" || m.Role == "replica") {
			ok = true
		}
	}
	if !ok {
		return ""
	}
	return strings.Join(parts, ", ")
}

func postmasterPID(dir, name string) (int, error) {
	return pidFile(filepath.Join(dir, name, "data", "postmaster.pid"))
}

func pidFile(path string) (int, error) {
	b, err := os.ReadFile(path) //nolint:gosec // a file of the cluster's temp dir
	if err != nil {
		return 0, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(strings.TrimSpace(line))
}

func connect(ctx context.Context, u string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var err error
	for ctx.Err() == nil {
		var c *pgx.Conn
		if c, err = pgx.Connect(ctx, u); err == nil {
			return c, nil
		}
		time.Sleep(500 * time.Millisecond)
	}
	return nil, fmt.Errorf("connect to the cluster: %w", err)
}

// syncCost measures creates and PATCHes per second through both replicas
// with the standby synchronous, then asynchronous (Patroni's
// synchronous_mode off), in one sitting.
func syncCost(ctx context.Context, o options, c *http.Client, replicas []string, token string) error {
	db, err := connect(ctx, o.dbURL)
	if err != nil {
		return err
	}
	defer db.Close(ctx)
	rate := func(op string) float64 {
		var n atomic.Int64
		start := time.Now()
		var wg sync.WaitGroup
		for i := range o.clients {
			wg.Go(func() {
				id := int64(0)
				for k := 0; time.Since(start) < 10*time.Second; k++ {
					base := replicas[(i+k)%2]
					var r result
					if op == "create" || id == 0 {
						r = timed(c, "create", http.MethodPost, base+"/tasks", token, `{"title":"sync cost"}`)
						id = r.taskID
						if op != "create" {
							continue
						}
					} else {
						r = timed(c, "patch", http.MethodPatch, fmt.Sprintf("%s/tasks/%d", base, id), token, fmt.Sprintf(`{"title":"patch %d"}`, k))
					}
					if r.status < 300 {
						n.Add(1)
					}
				}
			})
		}
		wg.Wait()
		return float64(n.Load()) / time.Since(start).Seconds()
	}
	setSync := func(on bool) error {
		leader, err := leaderOf(o.nodes)
		if err != nil {
			return err
		}
		req, _ := http.NewRequest(http.MethodPatch, "http://127.0.0.1:"+leader.rest+"/config", strings.NewReader(fmt.Sprintf(`{"synchronous_mode": %v}`, on))) //nolint:noctx // local
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return waitFor(30*time.Second, func() bool {
			var names string
			if err := db.QueryRow(ctx, "SELECT current_setting('synchronous_standby_names')").Scan(&names); err != nil {
				return false
			}
			return (names != "") == on
		})
	}
	type row struct{ create, patch float64 }
	var syncOn, syncOff row
	syncOn.create, syncOn.patch = rate("create"), rate("patch")
	if err := setSync(false); err != nil {
		return fmt.Errorf("turn synchronous mode off: %w", err)
	}
	syncOff.create, syncOff.patch = rate("create"), rate("patch")
	if err := setSync(true); err != nil {
		return fmt.Errorf("turn synchronous mode back on: %w", err)
	}
	fmt.Printf("\nwrites per second, %d clients through two replicas, 10 s each, via %s\n", o.clients, o.via)
	fmt.Printf("  %-28s %8s %8s\n", "", "create", "PATCH")
	fmt.Printf("  %-28s %8.0f %8.0f\n", "synchronous standby", syncOn.create, syncOn.patch)
	fmt.Printf("  %-28s %8.0f %8.0f\n", "asynchronous standby", syncOff.create, syncOff.patch)
	fmt.Printf("  %-28s %7.0f%% %7.0f%%\n", "cost of synchronous", 100*(1-syncOn.create/syncOff.create), 100*(1-syncOn.patch/syncOff.patch))
	return nil
}
