// Command todo-events runs the event log's fault scenarios of `make
// events-faults` (scripts/events-faults.sh starts the PostgreSQL and the
// NATS server it may restart): two replicas of the built server, 8 writers
// (one user each) creating, patching, completing and deleting tasks through
// them for 10 s, with writes refused by If-Match mixed in; at 5 s a fault:
//
//   - kill: the replica whose relay is active is killed (SIGKILL), the other
//     takes over;
//   - nats: nats-server is restarted (file storage);
//   - db: PostgreSQL is restarted.
//
// (-scenario reminders: reminders on two replicas, one killed, both down:
// see remindersScenario.) Then it reads the whole stream and checks that every acknowledged write's
// event arrived exactly once, that no event came from a write that did not
// commit, and that each user's events are in the order of their writes; and
// prints the figures. With -measure it instead measures, in one sitting, the
// writes per second with NATS_URL set and unset, the events per second
// through the relay, and the time from a write's commit to a consumer's
// receipt.
//
//	scripts/events-faults.sh [kill|nats|db|measure ...]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
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
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type options struct {
	bin, admin, natsURL, dir   string
	restartNATS, restartDB     string
	scenario                   string
	writers                    int
	duration, faultAt, measure time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/todo-api", "the server binary")
	flag.StringVar(&o.admin, "db", os.Getenv("DATABASE_URL"), "the admin URL of the PostgreSQL server (a database per scenario is made on it)")
	flag.StringVar(&o.natsURL, "nats", os.Getenv("NATS_URL"), "the NATS server (with JetStream)")
	flag.StringVar(&o.dir, "dir", os.TempDir(), "where the replicas' logs go")
	flag.StringVar(&o.restartNATS, "restart-nats", "scripts/nats.sh restart", "the command that restarts nats-server")
	flag.StringVar(&o.restartDB, "restart-db", "", "the command that restarts PostgreSQL")
	flag.StringVar(&o.scenario, "scenario", "kill", "kill, nats, db, reminders, reminders-scale or measure")
	flag.IntVar(&o.writers, "writers", 8, "concurrent writers, one user each")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "how long the writers write")
	flag.DurationVar(&o.faultAt, "fault-at", 5*time.Second, "when the fault happens")
	flag.DurationVar(&o.measure, "measure-for", 10*time.Second, "each sitting of -scenario measure")
	flag.Parse()
	if o.admin == "" || o.natsURL == "" {
		fmt.Fprintln(os.Stderr, "todo-events: set DATABASE_URL (-db) and NATS_URL (-nats); scripts/events-faults.sh does")
		os.Exit(2)
	}
	var err error
	switch o.scenario {
	case "measure":
		err = measure(o)
	case "reminders":
		err = remindersScenario(o)
	case "reminders-scale":
		err = reminderScale(o)
	default:
		err = scenario(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "todo-events:", err)
		os.Exit(1)
	}
}

// deployment is a database of the scenario's own, a stream of its own and
// the replicas serving them.
type deployment struct {
	o              options
	dbURL          string
	stream, prefix string
	env            []string
	replicas       []*replica
}

type replica struct {
	cmd  *exec.Cmd
	base string // http://127.0.0.1:port/api/v1
}

func newDeployment(ctx context.Context, o options, name string, withNATS bool) (*deployment, error) {
	d := &deployment{o: o, stream: "TODO_EVENTS_" + strings.ToUpper(name), prefix: "ev" + name}
	conn, err := pgx.Connect(ctx, o.admin)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(ctx)
	db := "events_" + name
	for _, q := range []string{"DROP DATABASE IF EXISTS " + db + " WITH (FORCE)", "CREATE DATABASE " + db} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(o.admin)
	if err != nil {
		return nil, err
	}
	u.Path = "/" + db
	d.dbURL = u.String()
	natsURL := ""
	if withNATS {
		natsURL = o.natsURL
	}
	d.env = []string{"DATABASE_URL=" + d.dbURL, "JWT_SECRET_KEY=" + strings.Repeat("ab", 32), "BCRYPT_COST=4",
		"AUTH_RATE_LIMIT=0", "REFRESH_RATE_LIMIT=0", "LOG_LEVEL=info", "METRICS_ADDR=", "SHUTDOWN_DELAY=0s",
		"COOKIE_SECURE=false", "DB_CONNECTION_TIMEOUT=3", "DB_STATEMENT_TIMEOUT=5s", "NATS_URL=" + natsURL,
		"EVENTS_STREAM=" + d.stream, "EVENTS_SUBJECT_PREFIX=" + d.prefix, "PATH=" + os.Getenv("PATH")}
	if out, err := d.command("migrate", "up").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("migrate up: %w: %s", err, out)
	}
	if withNATS {
		js, nc, err := jsConnect(o.natsURL)
		if err != nil {
			return nil, err
		}
		defer nc.Close()
		if err := js.DeleteStream(ctx, d.stream); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return nil, err
		}
	}
	return d, nil
}

func (d *deployment) command(args ...string) *exec.Cmd {
	cmd := exec.Command(d.o.bin, args...)
	cmd.Env = d.env
	return cmd
}

// start starts one more replica and waits until it is ready.
func (d *deployment) start(name string) (*replica, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cmd := d.command("serve")
	cmd.Env = append(cmd.Env, "PORT="+strconv.Itoa(port))
	log, err := os.Create(filepath.Join(d.o.dir, name+".log")) //nolint:gosec // a log of our own, where -dir says
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &replica{cmd: cmd, base: fmt.Sprintf("http://127.0.0.1:%d/api/v1", port)}
	d.replicas = append(d.replicas, r)
	if err := waitFor(30*time.Second, func() bool { return get(strings.TrimSuffix(r.base, "/api/v1")+"/readyz") == http.StatusOK }); err != nil {
		return nil, fmt.Errorf("%s never became ready (see %s)", name, log.Name())
	}
	return r, nil
}

func (d *deployment) stop() {
	for _, r := range d.replicas {
		if r.cmd.ProcessState == nil {
			_ = r.cmd.Process.Signal(syscall.SIGTERM)
			_ = r.cmd.Wait()
		}
	}
}

// relayActive reports whether some session holds the relay's lock.
func (d *deployment) relayActive(ctx context.Context) bool {
	conn, err := pgx.Connect(ctx, d.dbURL)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 7461024 AND granted`).Scan(&n)
	return err == nil && n == 1
}

// outboxEmpty reports whether every event was published.
func (d *deployment) outboxEmpty(ctx context.Context) bool {
	conn, err := pgx.Connect(ctx, d.dbURL)
	if err != nil {
		return false
	}
	defer conn.Close(ctx)
	var n int
	return conn.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n) == nil && n == 0
}

// key names one state of a task: an event carries it, a write answered it.
type key struct {
	task    int64
	version int64
	deleted bool
}

// writer is one user writing sequentially; it remembers what the server
// acknowledged, in order, and what it cannot know (no answer, a 5xx).
type writer struct {
	token, user string
	acked       []key
	pending     []int64 // tasks not completed
	tasks       map[int64]int64
	unsure      map[int64]int64 // task -> the last version known before an unanswered write
	unsureNew   int             // creates without an answer
	refused     int             // writes refused by If-Match (no event may come of them)
}

func scenario(o options) error {
	ctx := context.Background()
	d, err := newDeployment(ctx, o, o.scenario, true)
	if err != nil {
		return err
	}
	defer d.stop()
	a, err := d.start("events-" + o.scenario + "-a")
	if err != nil {
		return err
	}
	if err := waitFor(10*time.Second, func() bool { return d.relayActive(ctx) }); err != nil {
		return errors.New("no relay took the lock")
	}
	if _, err := d.start("events-" + o.scenario + "-b"); err != nil {
		return err
	}
	c := &http.Client{Timeout: 15 * time.Second}
	writers := make([]*writer, o.writers)
	for i := range writers {
		w, err := newWriter(c, a.base, fmt.Sprintf("writer%d@example.com", i))
		if err != nil {
			return err
		}
		writers[i] = w
	}

	start := time.Now()
	var wg sync.WaitGroup
	for i, w := range writers {
		wg.Go(func() {
			rnd := rand.New(rand.NewPCG(uint64(i), 7)) //nolint:gosec // a load's choices
			for n := 0; time.Since(start) < o.duration; n++ {
				alive := d.replicas[(i+n)%2]
				if alive.cmd.ProcessState != nil || (o.scenario == "kill" && alive == a && time.Since(start) > o.faultAt) {
					alive = d.replicas[1]
				}
				if !w.step(c, alive.base, rnd) {
					time.Sleep(100 * time.Millisecond)
				}
			}
		})
	}
	time.Sleep(o.faultAt)
	fault := time.Now()
	switch o.scenario {
	case "kill":
		if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			return err
		}
		_ = a.cmd.Wait()
		fmt.Printf("%5.1fs  SIGKILL the replica whose relay is active (pid %d)\n", time.Since(start).Seconds(), a.cmd.Process.Pid)
	case "nats":
		if out, err := exec.Command("bash", "-c", o.restartNATS).CombinedOutput(); err != nil {
			return fmt.Errorf("restart nats: %w: %s", err, out)
		}
		fmt.Printf("%5.1fs  nats-server restarted (%s)\n", time.Since(start).Seconds(), time.Since(fault).Round(time.Millisecond))
	case "db":
		if o.restartDB == "" {
			return errors.New("-restart-db is needed for the db scenario")
		}
		if out, err := exec.Command("bash", "-c", o.restartDB).CombinedOutput(); err != nil {
			return fmt.Errorf("restart the database: %w: %s", err, out)
		}
		fmt.Printf("%5.1fs  PostgreSQL restarted (%s)\n", time.Since(start).Seconds(), time.Since(fault).Round(time.Millisecond))
	default:
		return fmt.Errorf("unknown scenario %q", o.scenario)
	}
	wg.Wait()
	if err := waitFor(60*time.Second, func() bool { return d.relayActive(ctx) && d.outboxEmpty(ctx) }); err != nil {
		return errors.New("the outbox was not emptied within 60 s of the end")
	}
	got, err := readStream(ctx, o.natsURL, d.stream)
	if err != nil {
		return err
	}
	return check(got, writers, fault)
}

func newWriter(c *http.Client, base, email string) (*writer, error) {
	if s, b, err := call(c, http.MethodPost, base+"/auth/register", "", fmt.Sprintf(`{"email":%q,"password":"correct-horse"}`, email)); err != nil || s != http.StatusCreated {
		return nil, fmt.Errorf("register %s: %d %s: %w", email, s, b, err)
	}
	resp, err := c.PostForm(base+"/auth/login", url.Values{"username": {email}, "password": {"correct-horse"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return nil, fmt.Errorf("login %s: %d", email, resp.StatusCode)
	}
	s, b, err := call(c, http.MethodGet, base+"/auth/me", body.AccessToken, "")
	var me struct{ ID string }
	if err != nil || s != http.StatusOK || json.Unmarshal(b, &me) != nil {
		return nil, fmt.Errorf("me %s: %d: %w", email, s, err)
	}
	return &writer{token: body.AccessToken, user: me.ID, tasks: map[int64]int64{}, unsure: map[int64]int64{}}, nil
}

// step makes one write and records its outcome; false after a failure.
func (w *writer) step(c *http.Client, base string, rnd *rand.Rand) bool {
	op := rnd.IntN(10)
	if len(w.pending) == 0 {
		op = 0
	}
	var task int64
	if len(w.pending) > 0 {
		task = w.pending[rnd.IntN(len(w.pending))]
	}
	var method, path, body string
	var header []string
	switch {
	case op < 3:
		method, path, body = http.MethodPost, "/tasks", `{"title":"a task"}`
	case op < 6:
		method, path, body = http.MethodPatch, fmt.Sprintf("/tasks/%d", task), fmt.Sprintf(`{"title":"edit %d"}`, rnd.IntN(1000))
	case op < 7:
		method, path, body = http.MethodPatch, fmt.Sprintf("/tasks/%d", task), `{"title":"never"}`
		header = []string{"If-Match", `"999999"`}
	case op < 9:
		method, path = http.MethodPost, fmt.Sprintf("/tasks/%d/complete", task)
	default:
		method, path = http.MethodDelete, fmt.Sprintf("/tasks/%d", task)
	}
	status, b, err := call(c, method, base+path, w.token, body, header...)
	var t struct {
		ID, Version int64
		Task        *struct{ ID, Version int64 }
	}
	_ = json.Unmarshal(b, &t)
	if t.Task != nil {
		t.ID, t.Version = t.Task.ID, t.Task.Version
	}
	answered := err == nil && status < 500
	switch {
	case !answered && method == http.MethodPost && path == "/tasks":
		w.unsureNew++
	case !answered:
		if _, ok := w.unsure[task]; !ok {
			w.unsure[task] = w.tasks[task]
		}
		w.retire(task)
	case status == http.StatusPreconditionFailed:
		w.refused++
	case status == http.StatusCreated:
		w.acked = append(w.acked, key{task: t.ID, version: t.Version})
		w.tasks[t.ID] = t.Version
		w.pending = append(w.pending, t.ID)
	case status == http.StatusOK:
		w.acked = append(w.acked, key{task: t.ID, version: t.Version})
		w.tasks[t.ID] = t.Version
		if strings.HasSuffix(path, "/complete") {
			w.retire(task)
		}
	case status == http.StatusNoContent:
		w.acked = append(w.acked, key{task: task, version: w.tasks[task], deleted: true})
		w.retire(task)
	}
	return answered
}

// retire takes a task out of the writes: completed, deleted or unknown.
func (w *writer) retire(task int64) {
	w.pending = slices.DeleteFunc(w.pending, func(id int64) bool { return id == task })
}

// event is one message of the stream.
type event struct {
	id, subject, typ, user string
	key                    key
	reminderTask           int64     // reminder.due: its task
	at                     time.Time // stored by the stream
}

func jsConnect(u string) (jetstream.JetStream, *nats.Conn, error) {
	nc, err := nats.Connect(u)
	if err != nil {
		return nil, nil, fmt.Errorf("nats: %w", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, nil, err
	}
	return js, nc, nil
}

func readStream(ctx context.Context, natsURL, stream string) ([]event, error) {
	js, nc, err := jsConnect(natsURL)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	var out []event
	for seq := s.CachedInfo().State.FirstSeq; seq <= s.CachedInfo().State.LastSeq; seq++ {
		m, err := s.GetMsg(ctx, seq)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", seq, err)
		}
		e, err := parse(m.Data)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", seq, err)
		}
		e.subject, e.at = m.Subject, m.Time
		if m.Header.Get("Nats-Msg-Id") != e.id {
			return nil, fmt.Errorf("message %d: Nats-Msg-Id %q is not the event id %q", seq, m.Header.Get("Nats-Msg-Id"), e.id)
		}
		out = append(out, e)
	}
	return out, nil
}

func parse(b []byte) (event, error) {
	var ce struct {
		ID, Type string
		Time     time.Time
		Data     struct {
			UserID string `json:"user_id"`
			Task   *struct{ ID, Version int64 }
			TaskID int64 `json:"task_id"`
		}
	}
	if err := json.Unmarshal(b, &ce); err != nil {
		return event{}, err
	}
	e := event{id: ce.ID, typ: ce.Type, user: ce.Data.UserID, at: ce.Time, reminderTask: ce.Data.TaskID}
	if ce.Data.Task != nil {
		e.key = key{task: ce.Data.Task.ID, version: ce.Data.Task.Version, deleted: ce.Type == "dev.todo.task.deleted.v1"}
	}
	return e, nil
}

// check compares the stream with what the writers were told.
func check(got []event, writers []*writer, fault time.Time) error {
	var problems []string
	ids := map[string]int{}
	for _, e := range got {
		ids[e.id]++
	}
	dupIDs := 0
	for _, n := range ids {
		if n > 1 {
			dupIDs++
		}
	}
	acked, unsure, refused := 0, 0, 0
	missing, twice, phantom, disorder := 0, 0, 0, 0
	for _, w := range writers {
		acked += len(w.acked)
		unsure += len(w.unsure) + w.unsureNew
		refused += w.refused
		var mine []event
		for _, e := range got {
			if e.user == w.user {
				mine = append(mine, e)
			}
		}
		count := map[key]int{}
		for _, e := range mine {
			count[e.key]++
		}
		known := map[key]bool{}
		for _, k := range w.acked {
			known[k] = true
			switch count[k] {
			case 0:
				missing++
			case 1:
			default:
				twice++
			}
		}
		// every other event must come of a write that got no answer
		unknownNew := map[int64]bool{}
		for _, e := range mine {
			if known[e.key] {
				continue
			}
			if last, ok := w.unsure[e.key.task]; ok && e.key.version >= last {
				continue
			}
			if _, ok := w.tasks[e.key.task]; !ok {
				unknownNew[e.key.task] = true
				continue
			}
			phantom++
		}
		if len(unknownNew) > w.unsureNew {
			phantom += len(unknownNew) - w.unsureNew
		}
		// the user's acknowledged writes, in the order they were made
		var order []key
		for _, e := range mine {
			if known[e.key] {
				order = append(order, e.key)
			}
		}
		order = slices.CompactFunc(order, func(a, b key) bool { return a == b })
		if !slices.Equal(order, w.acked) && missing == 0 && twice == 0 {
			disorder++
		}
	}
	// the longest pause of the stream around the fault
	var gap time.Duration
	for i := 1; i < len(got); i++ {
		if g := got[i].at.Sub(got[i-1].at); g > gap && got[i].at.After(fault) {
			gap = g
		}
	}
	fmt.Printf("writes acknowledged %d, refused by If-Match %d, unanswered %d; events in the stream %d\n", acked, refused, unsure, len(got))
	fmt.Printf("missing %d, delivered twice %d (ids repeated %d), from no acknowledged or unanswered write %d, users out of order %d\n",
		missing, twice, dupIDs, phantom, disorder)
	fmt.Printf("longest pause between two events after the fault: %s\n", gap.Round(time.Millisecond))
	if missing > 0 {
		problems = append(problems, fmt.Sprintf("%d acknowledged writes have no event", missing))
	}
	if twice > 0 || dupIDs > 0 {
		problems = append(problems, fmt.Sprintf("%d events arrived twice", twice+dupIDs))
	}
	if phantom > 0 {
		problems = append(problems, fmt.Sprintf("%d events of writes that did not commit", phantom))
	}
	if disorder > 0 {
		problems = append(problems, fmt.Sprintf("%d users' events are out of order", disorder))
	}
	if acked == 0 || refused == 0 {
		problems = append(problems, "the load made no acknowledged or no refused write")
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("PASS")
	return nil
}

// measure runs the writers against one replica with NATS_URL unset and then
// set, alternating twice, and a consumer that times each event's arrival.
func measure(o options) error {
	ctx := context.Background()
	type sitting struct {
		withNATS bool
		writes   int
		events   int
		lag      []time.Duration
	}
	var sittings []sitting
	// four sittings alternate NATS_URL unset and set, for the writes'
	// throughput; a fifth, with a consumer on the same machine, times the
	// events' arrival
	for round := range 5 {
		withNATS := round%2 == 1 || round == 4
		consumer := round == 4
		name := fmt.Sprintf("m%d", round)
		d, err := newDeployment(ctx, o, name, withNATS)
		if err != nil {
			return err
		}
		r, err := d.start("events-measure-" + name)
		if err != nil {
			d.stop()
			return err
		}
		c := &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		writers := make([]*writer, o.writers)
		for i := range writers {
			if writers[i], err = newWriter(c, r.base, fmt.Sprintf("m%d@example.com", i)); err != nil {
				d.stop()
				return err
			}
		}
		s := sitting{withNATS: withNATS}
		var mu sync.Mutex
		var stopConsumer func()
		if withNATS {
			if err := waitFor(10*time.Second, func() bool { return d.relayActive(ctx) }); err != nil {
				d.stop()
				return errors.New("no relay")
			}
		}
		if consumer {
			stopConsumer, err = consume(ctx, o.natsURL, d.stream, d.prefix, func(lag time.Duration) {
				mu.Lock()
				s.lag = append(s.lag, lag)
				mu.Unlock()
			})
			if err != nil {
				d.stop()
				return err
			}
		}
		start := time.Now()
		var wg sync.WaitGroup
		var total int
		for i, w := range writers {
			wg.Go(func() {
				rnd := rand.New(rand.NewPCG(uint64(i), 11)) //nolint:gosec // a load's choices
				n := 0
				for time.Since(start) < o.measure {
					// creates and PATCHes only: every request a write
					if len(w.pending) == 0 || rnd.IntN(2) == 0 {
						if s, b, err := call(c, http.MethodPost, r.base+"/tasks", w.token, `{"title":"m"}`); err == nil && s == http.StatusCreated {
							var t struct{ ID int64 }
							_ = json.Unmarshal(b, &t)
							w.pending = append(w.pending, t.ID)
							n++
						}
						continue
					}
					id := w.pending[rnd.IntN(len(w.pending))]
					if s, _, err := call(c, http.MethodPatch, fmt.Sprintf("%s/tasks/%d", r.base, id), w.token, `{"title":"p"}`); err == nil && s == http.StatusOK {
						n++
					}
				}
				mu.Lock()
				total += n
				mu.Unlock()
			})
		}
		wg.Wait()
		took := time.Since(start)
		s.writes = int(float64(total) / took.Seconds())
		if withNATS {
			_ = waitFor(30*time.Second, func() bool { return d.outboxEmpty(ctx) })
		}
		if consumer {
			time.Sleep(500 * time.Millisecond)
			stopConsumer()
			mu.Lock()
			s.events = len(s.lag)
			mu.Unlock()
		}
		d.stop()
		fmt.Printf("sitting %d, NATS %-5v: %5d writes/s", round+1, withNATS, s.writes)
		if !consumer {
			sittings = append(sittings, s)
		} else {
			sort.Slice(s.lag, func(i, j int) bool { return s.lag[i] < s.lag[j] })
			fmt.Printf(", %d events received (%d/s), commit to receipt p50 %s p99 %s",
				s.events, int(float64(s.events)/took.Seconds()), pct(s.lag, 50), pct(s.lag, 99))
		}
		fmt.Println()
	}
	var off, on float64
	for _, s := range sittings {
		if s.withNATS {
			on += float64(s.writes)
		} else {
			off += float64(s.writes)
		}
	}
	fmt.Printf("writes with NATS_URL set: %.1f %% of unset (%d writers, %s each sitting, sittings 1-4)\n", 100*on/off, o.writers, o.measure)
	return nil
}

// consume receives every event of the stream as it comes and reports the
// time from the event's time (its commit) to its receipt.
func consume(ctx context.Context, natsURL, stream, prefix string, seen func(time.Duration)) (func(), error) {
	js, nc, err := jsConnect(natsURL)
	if err != nil {
		return nil, err
	}
	var s jetstream.Stream
	if err := waitFor(10*time.Second, func() bool { s, err = js.Stream(ctx, stream); return err == nil }); err != nil {
		nc.Close()
		return nil, fmt.Errorf("stream %s never appeared", stream)
	}
	cons, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{FilterSubjects: []string{prefix + ".>"}})
	if err != nil {
		nc.Close()
		return nil, err
	}
	cc, err := cons.Consume(func(m jetstream.Msg) {
		received := time.Now()
		var ce struct{ Time time.Time }
		if json.Unmarshal(m.Data(), &ce) == nil {
			seen(received.Sub(ce.Time))
		}
	})
	if err != nil {
		nc.Close()
		return nil, err
	}
	return func() { cc.Stop(); nc.Close() }, nil
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	return d[min(len(d)-1, len(d)*p/100)].Round(100 * time.Microsecond)
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
	for end := time.Now().Add(limit); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if cond() {
			return nil
		}
	}
	return errors.New("timed out")
}

func get(u string) int {
	resp, err := http.Get(u) //nolint:gosec,noctx // a local health URL
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// call sends one JSON request (body "": none) with a bearer token and any
// headers (name, value, ...), and reads the whole answer.
func call(c *http.Client, method, u, token, body string, header ...string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd) //nolint:noctx // the client's timeout bounds it
	if err != nil {
		return 0, nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
