package httpx_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/httpx"
)

// listen serves the app on a TCP port of its own, as cmd/todo-api does,
// until the test ends; it returns the address.
func (a *app) listen(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: a.e, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() { _ = httpx.Serve(srv, ln); close(done) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return ln.Addr().String()
}

// rawConn is a client connection that writes bytes as given and reads
// responses one by one.
type rawConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRaw(t *testing.T, addr string) *rawConn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	// A bound on every read: a server that keeps the connection open when
	// it should close it fails the test instead of hanging it.
	require.NoError(t, c.SetDeadline(time.Now().Add(10*time.Second)))
	return &rawConn{Conn: c, r: bufio.NewReader(c)}
}

func (c *rawConn) send(t *testing.T, raw string) {
	t.Helper()
	_, err := io.WriteString(c, raw)
	require.NoError(t, err)
}

// rawResponse is a response read off a rawConn.
type rawResponse struct {
	StatusCode int
	Header     http.Header
	Close      bool // it had Connection: close
	Body       string
}

// response reads the next response and its body.
func (c *rawConn) response(t *testing.T) rawResponse {
	t.Helper()
	resp, err := http.ReadResponse(c.r, nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return rawResponse{StatusCode: resp.StatusCode, Header: resp.Header, Close: resp.Close, Body: string(body)}
}

// closed asserts that the server sends nothing more and closes the
// connection.
func (c *rawConn) closed(t *testing.T) {
	t.Helper()
	rest, err := io.ReadAll(c.r)
	assert.NoError(t, err, "the server closed the connection (a timeout means it kept it open)")
	assert.Empty(t, string(rest), "nothing more was answered")
}

// ambiguous is a request with Content-Length and Transfer-Encoding:
// chunked. Read as chunked, its body ends at once and smuggled follows as
// another request; a proxy that reads Content-Length sends it all as one.
func ambiguous(path, smuggled string) string {
	body := "0\r\n\r\n" + smuggled
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"+
		"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s", path, len(body), body)
}

const smuggledHealthz = "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"

func TestContentLengthWithChunkedIsRefusedAndTheConnectionClosed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	addr := a.listen(t)
	requireRefused := func(t *testing.T, c *rawConn) {
		t.Helper()
		resp := c.response(t)
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, resp.Body)
		assert.True(t, resp.Close, "Connection: close")
		assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
		var e map[string]any
		require.NoError(t, json.Unmarshal([]byte(resp.Body), &e), resp.Body)
		assert.Equal(t, "BAD_REQUEST", e["code"])
		assert.NotEmpty(t, e["detail"])
		c.closed(t)
	}
	t.Run("FirstOnTheConnection", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(t, ambiguous("/api/v1/tasks", smuggledHealthz))
		requireRefused(t, c)
	})
	t.Run("AfterAnotherOnAKeptConnection", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(t, "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
		resp := c.response(t)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		require.False(t, resp.Close)
		c.send(t, ambiguous("/api/v1/auth/register", smuggledHealthz))
		requireRefused(t, c)
	})
	t.Run("PipelinedBehindAnother", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(t, "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n"+ambiguous("/api/v1/tasks", smuggledHealthz))
		resp := c.response(t)
		assert.Equal(t, http.StatusOK, resp.StatusCode, "the request before it is answered")
		requireRefused(t, c)
	})
	t.Run("OnHTTP10", func(t *testing.T) {
		c := dialRaw(t, addr)
		c.send(t, strings.Replace(ambiguous("/api/v1/tasks", smuggledHealthz), "HTTP/1.1", "HTTP/1.0", 1))
		requireRefused(t, c)
	})
}

// TestFramedRequestsKeepTheirConnection: chunked bodies, Content-Length
// bodies and trailers, one after another on one connection, are each
// answered, and the connection stays open.
func TestFramedRequestsKeepTheirConnection(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	addr := a.listen(t)
	c := dialRaw(t, addr)
	register := `{"email":"framed@example.com","password":"correct-horse"}`
	chunked := fmt.Sprintf("%x;ext=1\r\n%s\r\n%x\r\n%s\r\n0\r\nX-Trailer: yes\r\n\r\n", 10, register[:10], len(register)-10, register[10:])
	c.send(t, "POST /api/v1/auth/register HTTP/1.1\r\nHost: api\r\nContent-Type: application/json\r\n"+
		"Transfer-Encoding: chunked\r\n\r\n"+chunked)
	resp := c.response(t)
	assert.Equal(t, http.StatusCreated, resp.StatusCode, resp.Body)
	assert.False(t, resp.Close)
	form := "username=framed%40example.com&password=correct-horse"
	c.send(t, fmt.Sprintf("POST /api/v1/auth/login HTTP/1.1\r\nHost: api\r\nContent-Type: application/x-www-form-urlencoded\r\n"+
		"Content-Length: %d\r\n\r\n%s\r\n", len(form), form)) // a CRLF after a POST's body is tolerated
	resp = c.response(t)
	assert.Equal(t, http.StatusOK, resp.StatusCode, resp.Body)
	assert.False(t, resp.Close)
	c.send(t, "GET /healthz HTTP/1.1\r\nHost: api\r\n\r\n")
	resp = c.response(t)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.False(t, resp.Close, "every request was followed: the connection stays")
}
