package httpx_test

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/testdb"
)

// tcpProxy stands between the server and PostgreSQL so a test can cut the
// database off (every connection dropped, new ones refused) and bring it
// back on the same address.
type tcpProxy struct {
	target, addr string
	mu           sync.Mutex
	ln           net.Listener
	conns        map[net.Conn]struct{}
}

// proxiedDatabase makes a fresh database and a proxy in front of it: the
// database's URL, the same through the proxy, and the proxy.
func proxiedDatabase(t *testing.T) (direct, viaProxy *url.URL, proxy *tcpProxy) {
	t.Helper()
	direct, err := url.Parse(testdb.NewDatabase(t))
	require.NoError(t, err)
	proxy = startProxy(t, direct.Host)
	through := *direct
	through.Host = proxy.addr
	return direct, &through, proxy
}

func startProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	p := &tcpProxy{target: target, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.Start(t)
	t.Cleanup(p.Stop)
	return p
}

func (p *tcpProxy) Start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", p.addr)
	require.NoError(t, err)
	p.mu.Lock()
	p.ln, p.addr = ln, ln.Addr().String()
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.pipe(c)
		}
	}()
}

func (p *tcpProxy) pipe(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns[c], p.conns[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// Refuse refuses new connections and keeps those there are.
func (p *tcpProxy) Refuse() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
}

// Stop drops every connection and refuses new ones.
func (p *tcpProxy) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func TestDatabaseOutage(t *testing.T) {
	t.Parallel()
	_, viaProxy, proxy := proxiedDatabase(t)
	logs := &syncBuffer{}
	a := newApp(t, func(o *options) {
		o.databaseURL = viaProxy.String()
		o.configure = func(c *pgxpool.Config) { c.ConnConfig.ConnectTimeout = 2 * time.Second }
		o.logger = slog.New(slog.NewJSONHandler(logs, nil))
	})
	access, _ := a.login(t, "outage@example.com", "correct-horse")
	poll(t, a.listener.Connected, "the listener connects") // ready only then
	require.Equal(t, http.StatusOK, a.do(t, "GET", "/readyz", "", "").Code)

	proxy.Stop()
	r := a.do(t, "GET", "/readyz", "", "")
	requireError(t, r, 503, "SERVICE_UNAVAILABLE", "")
	poll(t, func() bool { return a.me(t, access).Code == http.StatusServiceUnavailable }, "the API answers 503 while the database is down")
	requireError(t, a.me(t, access), 503, "SERVICE_UNAVAILABLE", "Service temporarily unavailable")
	requireError(t, a.loginRaw(t, "outage@example.com", "correct-horse"), 503, "SERVICE_UNAVAILABLE", "")
	assert.Equal(t, http.StatusOK, a.do(t, "GET", "/healthz", "", "").Code, "the process is alive all along")
	for range 20 {
		requireError(t, a.me(t, access), 503, "SERVICE_UNAVAILABLE", "")
	}

	proxy.Start(t)
	poll(t, func() bool { return a.do(t, "GET", "/readyz", "", "").Code == http.StatusOK }, "/readyz recovers")
	poll(t, func() bool { return a.me(t, access).Code == http.StatusOK }, "the API recovers")

	// The outage is logged once when it starts and once when it ends; each
	// failed request has one line, a warning with its cause.
	assert.Len(t, logs.lines(`"level":"ERROR"`), 1, "one error line: the outage")
	assert.Len(t, logs.lines(`"level":"ERROR"`, "database unavailable"), 1)
	assert.Len(t, logs.lines(`"level":"INFO"`, "database available again"), 1)
	failed := logs.lines(`"msg":"request"`, `"status":503`)
	assert.GreaterOrEqual(t, len(failed), 23)
	for _, l := range failed {
		assert.Contains(t, l, `"level":"WARN"`)
		assert.Contains(t, l, `"error":`)
	}
	assert.Len(t, logs.lines(`"status":503`), len(failed), "no second line per failed request")
}
