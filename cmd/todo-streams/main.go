// Command todo-streams measures live events at scale against a running
// server: it registers users, opens event streams (GET /events) for each,
// reads the server's resident memory before and after, then has every user
// create a task at once and reports how long each stream took to receive
// its user's change, counted from when the create was sent and from when
// its answer came (the change had committed).
//
//	go run ./cmd/todo-streams -url http://127.0.0.1:8000 -users 100 -streams 10 -pid $(pgrep -f 'todo-api serve')
//	go run ./cmd/todo-streams -users 1 -streams 1000 ...   one change, a thousand streams
//
// The server needs AUTH_RATE_LIMIT=0 (the users log in at once) and
// EVENT_STREAMS_PER_USER at least -streams.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	base := flag.String("url", "http://127.0.0.1:8000", "the server")
	users := flag.Int("users", 100, "users")
	streams := flag.Int("streams", 10, "streams per user")
	pid := flag.Int("pid", 0, "the server's process id, to read its memory (0: not read)")
	flag.Parse()
	if err := run(*base+"/api/v1", *users, *streams, *pid); err != nil {
		fmt.Fprintln(os.Stderr, "todo-streams:", err)
		os.Exit(1)
	}
}

func run(api string, users, perUser, pid int) error {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, MaxConnsPerHost: 0}}
	tokens, err := login(client, api, users)
	if err != nil {
		return err
	}
	before := rss(pid)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type arrival struct {
		user int
		at   time.Time
	}
	arrivals := make(chan arrival, users*perUser)
	var opened sync.WaitGroup
	errs := make(chan error, users*perUser)
	for u, tok := range tokens {
		for range perUser {
			opened.Add(1)
			go func() {
				resp, err := open(ctx, client, api, tok)
				opened.Done()
				if err != nil {
					errs <- err
					return
				}
				defer resp.Body.Close()
				sc := bufio.NewScanner(resp.Body)
				for sc.Scan() {
					if strings.HasPrefix(sc.Text(), "event: change") {
						arrivals <- arrival{u, time.Now()}
					}
				}
			}()
		}
	}
	opened.Wait()
	select {
	case err := <-errs:
		return fmt.Errorf("opening the streams: %w", err)
	default:
	}
	time.Sleep(time.Second) // let the server settle
	after := rss(pid)
	fmt.Printf("%d streams open (%d users x %d); server RSS %.1f MB before, %.1f MB after: %.1f MB for the streams (%.1f KB each)\n",
		users*perUser, users, perUser, mb(before), mb(after), mb(after-before), float64(after-before)/1024/float64(users*perUser))

	// Every user creates a task at once; each stream should see its user's.
	sent, answered := make([]time.Time, users), make([]time.Time, users)
	var wg sync.WaitGroup
	start := time.Now()
	for u, tok := range tokens {
		wg.Go(func() {
			sent[u] = time.Now()
			if err := post(client, api+"/tasks", tok, `{"title":"streamed"}`); err != nil {
				errs <- err
			}
			answered[u] = time.Now()
		})
	}
	wg.Wait()
	var delays, afterCommit []time.Duration
	timeout := time.After(10 * time.Second)
	for len(delays) < users*perUser {
		select {
		case a := <-arrivals:
			delays = append(delays, a.at.Sub(sent[a.user]))
			afterCommit = append(afterCommit, max(0, a.at.Sub(answered[a.user])))
		case err := <-errs:
			return err
		case <-timeout:
			return fmt.Errorf("only %d of %d streams received their change within 10 s", len(delays), users*perUser)
		}
	}
	summary := func(d []time.Duration) string {
		slices.Sort(d)
		pct := func(p float64) time.Duration { return d[int(p*float64(len(d)-1))].Round(time.Millisecond) }
		return fmt.Sprintf("p50 %s, p99 %s, max %s", pct(.5), pct(.99), pct(1))
	}
	fmt.Printf("%d creates sent at once, all answered in %s; each of the %d streams got its user's change:\n  after the create was sent: %s\n  after its answer (committed): %s\nserver RSS %.1f MB\n",
		users, time.Since(start).Round(time.Millisecond), len(delays), summary(delays), summary(afterCommit), mb(rss(pid)))
	return nil
}

// login registers and logs in users, returning their access tokens.
func login(client *http.Client, api string, n int) ([]string, error) {
	run := time.Now().UnixNano()
	tokens := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 8)
	for i := range n {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			email := fmt.Sprintf("streams-%d-%d@example.com", run, i)
			body, _ := json.Marshal(map[string]string{"email": email, "password": "correct-horse-battery"})
			resp, err := client.Post(api+"/auth/register", "application/json", bytes.NewReader(body))
			if err != nil {
				errs <- err
				return
			}
			resp.Body.Close()
			resp, err = client.PostForm(api+"/auth/login", url.Values{"username": {email}, "password": {"correct-horse-battery"}})
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var t struct {
				AccessToken string `json:"access_token"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&t); err != nil || t.AccessToken == "" {
				errs <- fmt.Errorf("login %s: status %d", email, resp.StatusCode)
				return
			}
			tokens[i] = t.AccessToken
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		return nil, err
	default:
		return tokens, nil
	}
}

func open(ctx context.Context, client *http.Client, api, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, api+"/events", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET /events: %d", resp.StatusCode)
	}
	return resp, nil
}

func post(client *http.Client, u, token, body string) error {
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("POST %s: %d", u, resp.StatusCode)
	}
	return nil
}

// rss is a process's resident memory in bytes (0 when pid is 0).
func rss(pid int) int64 {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			var kb int64
			if _, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb); err == nil {
				return kb * 1024
			}
		}
	}
	return 0
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }
