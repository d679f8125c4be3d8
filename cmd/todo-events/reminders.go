package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// remindersScenario: reminders on two replicas. (1) 20 reminders due in 3 s
// reach a stream on each replica exactly once, within 2 s of their time,
// and each is marked fired once; (2) the replica working a reminder's job is
// killed (SIGKILL) while the firing waits for the task's row: it fires once
// (the other replica's stream gets it once, the event log has it once) and
// River's rescue completes the job on the other; (3) every replica down
// across a reminder's time: it fires once when one starts again.
func remindersScenario(o options) error {
	ctx := context.Background()
	d, err := newDeployment(ctx, o, "reminders", true)
	if err != nil {
		return err
	}
	d.env = append(d.env, "JOB_RESCUE_AFTER=5s")
	defer d.stop()
	a, err := d.start("reminders-a")
	if err != nil {
		return err
	}
	b, err := d.start("reminders-b")
	if err != nil {
		return err
	}
	c := &http.Client{Timeout: 15 * time.Second}
	w, err := newWriter(c, a.base, "reminders@example.com")
	if err != nil {
		return err
	}
	var problems []string
	fail := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf(format, args...))
		fmt.Println("  FAIL: " + fmt.Sprintf(format, args...))
	}

	// (1) exactly once, on time, on both replicas' streams
	sa, err := openStream(a.base, w.token)
	if err != nil {
		return err
	}
	defer sa.close()
	sb, err := openStream(b.base, w.token)
	if err != nil {
		return err
	}
	defer sb.close()
	at := time.Now().Add(3 * time.Second).Truncate(time.Second)
	var ids []int64
	for i := range 20 {
		id, err := createWithReminder(c, a.base, w.token, fmt.Sprintf("reminded %d", i), at.Add(time.Duration(i)*50*time.Millisecond))
		if err != nil {
			return err
		}
		ids = append(ids, id)
	}
	time.Sleep(time.Until(at.Add(4 * time.Second)))
	var worst time.Duration
	for name, s := range map[string]*stream{"replica A": sa, "replica B": sb} {
		got := s.reminders()
		per := map[int64]int{}
		for _, r := range got {
			per[r.TaskID]++
			worst = max(worst, r.receivedAt.Sub(r.FiresAt))
			if late := r.receivedAt.Sub(r.FiresAt); late > 2*time.Second {
				fail("%s got task %d's reminder %s after its time", name, r.TaskID, late)
			}
		}
		for _, id := range ids {
			if per[id] != 1 {
				fail("%s's stream got task %d's reminder %d times", name, id, per[id])
			}
		}
	}
	fired, err := firedCount(ctx, d.dbURL, ids)
	if err != nil {
		return err
	}
	if fired != len(ids) {
		fail("%d of %d reminders marked fired", fired, len(ids))
	}
	fmt.Printf("two replicas: %d reminders, each on both streams once, the latest %s after its time; %d marked fired\n",
		len(ids), worst.Round(time.Millisecond), fired)

	// (2) the replica working the job killed, while its firing waits for
	// the task's row; the streams stay open on the other
	at = time.Now().Add(2 * time.Second)
	id, err := createWithReminder(c, a.base, w.token, "held", at)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, d.dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, "SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE", id); err != nil {
		return err
	}
	if err := waitFor(20*time.Second, func() bool { return jobState(ctx, d.dbURL, id) == "running" }); err != nil {
		return errors.New("the reminder's job never ran")
	}
	holder, survivor, watch := a, b, sb
	if pid := jobPID(ctx, d.dbURL, id); pid == b.cmd.Process.Pid {
		holder, survivor, watch = b, a, sa
	}
	if err := stopReplica(holder, syscall.SIGKILL); err != nil {
		return err
	}
	killed := time.Now()
	fmt.Printf("SIGKILL the replica working the reminder's job (pid %d; its firing waited for the task's row)\n", holder.cmd.Process.Pid)
	if err := tx.Commit(ctx); err != nil {
		return err
	}
	if err := waitFor(120*time.Second, func() bool { n, _ := firedCount(ctx, d.dbURL, []int64{id}); return n == 1 }); err != nil {
		fail("the killed replica's reminder never fired")
	}
	firedAfter := time.Since(killed)
	// River's rescue runs the job again on the survivor; it finds the
	// reminder fired (or fires it): either way once
	if err := waitFor(90*time.Second, func() bool { return jobState(ctx, d.dbURL, id) == "completed" }); err != nil {
		fail("the killed replica's job was never rescued")
	}
	if n := countFor(watch.reminders(), id); n != 1 {
		fail("the surviving replica's stream got the reminder %d times", n)
	}
	if n, err := dueEvents(ctx, o.natsURL, d.stream, id); err != nil || n != 1 {
		fail("the event log has %d reminder.due of it (%v)", n, err)
	}
	fmt.Printf("fired once, %s after the kill (the dead replica's statement, committed when the row was released, or River's rescue); its job rescued and completed %s after the kill (JOB_RESCUE_AFTER=5s, River's rescuer every 30 s)\n",
		firedAfter.Round(100*time.Millisecond), time.Since(killed).Round(time.Second))

	// (3) every replica down across the reminder's time
	at = time.Now().Add(2 * time.Second)
	id, err = createWithReminder(c, survivor.base, w.token, "while down", at)
	if err != nil {
		return err
	}
	if err := stopReplica(survivor, syscall.SIGTERM); err != nil {
		return err
	}
	time.Sleep(time.Until(at.Add(3 * time.Second)))
	if n, _ := firedCount(ctx, d.dbURL, []int64{id}); n != 0 {
		fail("a reminder fired with every replica down")
	}
	if _, err := d.start("reminders-again"); err != nil {
		return err
	}
	if err := waitFor(30*time.Second, func() bool { n, _ := firedCount(ctx, d.dbURL, []int64{id}); return n == 1 }); err != nil {
		fail("the reminder missed while down never fired")
	}
	// no stream was open when it fired (it fired as the replica started):
	// the event log is where it must be, once
	if err := waitFor(10*time.Second, func() bool { return d.outboxEmpty(ctx) }); err != nil {
		return errors.New("the outbox was not emptied")
	}
	if n, err := dueEvents(ctx, o.natsURL, d.stream, id); err != nil || n != 1 {
		fail("the event log has %d reminder.due of the reminder missed while down (%v)", n, err)
	}
	fmt.Printf("every replica down across its time: fired once on start, %s late\n", time.Since(at).Round(100*time.Millisecond))
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	fmt.Println("PASS")
	return nil
}

func stopReplica(r *replica, sig syscall.Signal) error {
	if err := r.cmd.Process.Signal(sig); err != nil {
		return err
	}
	_ = r.cmd.Wait()
	return nil
}

func createWithReminder(c *http.Client, base, token, title string, at time.Time) (int64, error) {
	body := fmt.Sprintf(`{"title":%q,"reminders":[{"at":%q}]}`, title, at.UTC().Format(time.RFC3339Nano))
	s, b, err := call(c, http.MethodPost, base+"/tasks", token, body)
	if err != nil || s != http.StatusCreated {
		return 0, fmt.Errorf("create: %d %s: %w", s, b, err)
	}
	var t struct{ ID int64 }
	return t.ID, json.Unmarshal(b, &t)
}

// firedCount is how many of the tasks' (single) reminders are marked fired.
func firedCount(ctx context.Context, dbURL string, ids []int64) (int, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FROM tasks WHERE id = ANY($1) AND reminders->0->>'fired_at' IS NOT NULL`, ids).Scan(&n)
	return n, err
}

func jobState(ctx context.Context, dbURL string, task int64) string {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return ""
	}
	defer conn.Close(ctx)
	var s string
	_ = conn.QueryRow(ctx, `SELECT state FROM river_job WHERE kind = 'reminder' AND (args->>'task_id')::bigint = $1`, task).Scan(&s)
	return s
}

// stream is an open GET /events, keeping its `reminder` events.
type stream struct {
	cancel context.CancelFunc
	mu     sync.Mutex
	got    []reminderEvent
}

type reminderEvent struct {
	TaskID     int64     `json:"task_id"`
	FiresAt    time.Time `json:"fires_at"`
	receivedAt time.Time
}

func openStream(base, token string) (*stream, error) {
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/events", nil)
	if err != nil {
		cancel()
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req) //nolint:bodyclose // closed by the reader when the stream ends
	if err != nil || resp.StatusCode != http.StatusOK {
		cancel()
		return nil, fmt.Errorf("open the event stream: %w", errors.Join(err, errors.New("no stream")))
	}
	s := &stream{cancel: cancel}
	go func() {
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				event = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: ") && event == "reminder":
				var r reminderEvent
				if json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &r) == nil {
					r.receivedAt = time.Now()
					s.mu.Lock()
					s.got = append(s.got, r)
					s.mu.Unlock()
				}
			case line == "":
				event = ""
			}
		}
	}()
	return s, nil
}

func (s *stream) reminders() []reminderEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]reminderEvent(nil), s.got...)
}

func (s *stream) close() { s.cancel() }

func countFor(rs []reminderEvent, task int64) int {
	n := 0
	for _, r := range rs {
		if r.TaskID == task {
			n++
		}
	}
	return n
}

// dueEvents counts the reminder.due events of a task in the stream.
func dueEvents(ctx context.Context, natsURL, stream string, task int64) (int, error) {
	got, err := readStream(ctx, natsURL, stream)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, e := range got {
		if e.typ == "dev.todo.reminder.due.v1" && e.reminderTask == task {
			n++
		}
	}
	return n, nil
}

// jobPID is the process that ran a task's reminder job last (River's client
// id ends in the process id and its start: internal/jobs).
func jobPID(ctx context.Context, dbURL string, task int64) int {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0
	}
	defer conn.Close(ctx)
	var by string
	_ = conn.QueryRow(ctx, `SELECT attempted_by[array_length(attempted_by, 1)] FROM river_job
		WHERE kind = 'reminder' AND (args->>'task_id')::bigint = $1`, task).Scan(&by)
	parts := strings.Split(by, "-")
	if len(parts) < 3 {
		return 0
	}
	pid, _ := strconv.Atoi(parts[len(parts)-2])
	return pid
}
