package webhook_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/webhook"
)

var body = []byte(`{"type":"task.created","data":{"id":42}}`)

// localhostTLS starts an https server whose certificate names "localhost"
// (httptest's own names only 127.0.0.1, ::1 and example.com) and returns
// it with a pool that trusts it.
func localhostTLS(t *testing.T, h http.Handler) (*httptest.Server, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	pool.AddCert(cert)

	srv := httptest.NewUnstartedServer(h)
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv, pool
}

// counting answers status and counts the requests it gets.
func counting(status int) (http.Handler, *atomic.Int32) {
	var n atomic.Int32
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n.Add(1)
		w.WriteHeader(status)
	}), &n
}

func secret(t *testing.T) string {
	t.Helper()
	s, err := webhook.NewSecret()
	require.NoError(t, err)
	return s
}

func TestDeliverRefusesNameResolvingToLoopback(t *testing.T) {
	t.Parallel()
	h, hits := counting(http.StatusNoContent)
	srv, pool := localhostTLS(t, h)
	target := "https://localhost:" + port(t, srv.URL) + "/hook"
	// Registration refuses "localhost" itself; a public name that resolves
	// to loopback (DNS rebinding) passes it, and meets this check instead.
	require.Error(t, webhook.ValidateURL(target, false, false))

	client := webhook.NewClient(webhook.Options{RootCAs: pool})
	res := webhook.Deliver(context.Background(), client, target, secret(t), "msg_1", body, time.Now())
	assert.ErrorIs(t, res.Cause, webhook.ErrForbiddenAddress)
	assert.Equal(t, "the host's address is not public", res.Err)
	assert.False(t, res.OK)
	assert.Zero(t, res.StatusCode)
	assert.Zero(t, hits.Load(), "no request reached the server")

	client = webhook.NewClient(webhook.Options{RootCAs: pool, AllowPrivate: true})
	res = webhook.Deliver(context.Background(), client, target, secret(t), "msg_1", body, time.Now())
	assert.NoError(t, res.Cause)
	assert.True(t, res.OK, res.Err)
	assert.Equal(t, http.StatusNoContent, res.StatusCode)
	assert.Empty(t, res.Err)
	assert.Positive(t, res.Duration)
	assert.EqualValues(t, 1, hits.Load())
}

func TestDeliverRefusesLiteralLoopback(t *testing.T) {
	t.Parallel()
	h, hits := counting(http.StatusOK)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	res := webhook.Deliver(context.Background(), webhook.NewClient(webhook.Options{}), srv.URL, secret(t), "msg_1", body, time.Now())
	assert.ErrorIs(t, res.Cause, webhook.ErrForbiddenAddress)
	assert.Equal(t, "the host's address is not public", res.Err, "the address itself stays in the server's log")
	assert.Zero(t, hits.Load())
}

func TestDeliverDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	target, targetHits := counting(http.StatusOK)
	targetSrv := httptest.NewServer(target)
	t.Cleanup(targetSrv.Close)
	var originHits atomic.Int32
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		originHits.Add(1)
		http.Redirect(w, r, targetSrv.URL+"/elsewhere", http.StatusFound)
	}))
	t.Cleanup(origin.Close)

	client := webhook.NewClient(webhook.Options{AllowPrivate: true})
	res := webhook.Deliver(context.Background(), client, origin.URL, secret(t), "msg_1", body, time.Now())
	assert.False(t, res.OK)
	assert.Equal(t, http.StatusFound, res.StatusCode)
	assert.Equal(t, "redirect (302) not followed", res.Err)
	assert.EqualValues(t, 1, originHits.Load())
	assert.Zero(t, targetHits.Load(), "the redirect's target was never asked")
}

func TestDeliverSignatureVerifies(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		gotBody []byte
		gotHdr  http.Header
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		gotBody, gotHdr = b, r.Header.Clone()
		mu.Unlock()
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)

	sec := secret(t)
	assert.Regexp(t, `^whsec_[A-Za-z0-9+/]{43}=$`, sec)
	now := time.Now()
	client := webhook.NewClient(webhook.Options{AllowPrivate: true})
	res := webhook.Deliver(context.Background(), client, srv.URL, sec, "msg_2b1", body, now)
	require.True(t, res.OK, res.Err)
	assert.Equal(t, http.StatusAccepted, res.StatusCode)

	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, body, gotBody)
	assert.Equal(t, "application/json", gotHdr.Get("content-type"))
	assert.Equal(t, "todo-api-webhooks/1", gotHdr.Get("user-agent"))
	assert.Equal(t, "msg_2b1", gotHdr.Get("webhook-id"))
	assert.Equal(t, strconv.FormatInt(now.Unix(), 10), gotHdr.Get("webhook-timestamp"))
	assert.True(t, strings.HasPrefix(gotHdr.Get("webhook-signature"), "v1,"))

	wh, err := standardwebhooks.NewWebhook(sec)
	require.NoError(t, err)
	assert.NoError(t, wh.Verify(gotBody, gotHdr))
	tampered := append([]byte(nil), gotBody...)
	tampered[len(tampered)-2] = '3'
	assert.ErrorIs(t, wh.Verify(tampered, gotHdr), standardwebhooks.ErrNoMatchingSignature)
	other, err := standardwebhooks.NewWebhook(secret(t))
	require.NoError(t, err)
	assert.ErrorIs(t, other.Verify(gotBody, gotHdr), standardwebhooks.ErrNoMatchingSignature, "another endpoint's secret")
}

func TestDeliverTimeout(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Read the body first: only then does the server notice the
		// client hanging up and cancel r.Context().
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(srv.Close)

	client := webhook.NewClient(webhook.Options{AllowPrivate: true, Timeout: 100 * time.Millisecond})
	res := webhook.Deliver(context.Background(), client, srv.URL, secret(t), "msg_1", body, time.Now())
	assert.False(t, res.OK)
	assert.Zero(t, res.StatusCode)
	assert.Equal(t, "timeout after 100ms", res.Err)
	assert.Less(t, res.Duration, 2*time.Second)
}

func TestDeliverFailures(t *testing.T) {
	t.Parallel()
	client := webhook.NewClient(webhook.Options{AllowPrivate: true})

	// A port nobody listens on any more.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	closed := "http://" + l.Addr().String()
	require.NoError(t, l.Close())
	res := webhook.Deliver(context.Background(), client, closed, secret(t), "msg_1", body, time.Now())
	assert.Equal(t, "connection refused", res.Err)
	assert.Zero(t, res.StatusCode)

	h, _ := counting(http.StatusInternalServerError)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	res = webhook.Deliver(context.Background(), client, srv.URL, secret(t), "msg_1", body, time.Now())
	assert.False(t, res.OK)
	assert.Equal(t, http.StatusInternalServerError, res.StatusCode)
	assert.Equal(t, "status 500", res.Err)

	res = webhook.Deliver(context.Background(), client, srv.URL, "not base64!", "msg_1", body, time.Now())
	assert.Equal(t, "invalid signing secret", res.Err)
}

func TestNewClientUsesNoProxy(t *testing.T) {
	t.Parallel()
	c := webhook.NewClient(webhook.Options{})
	tr, ok := c.Transport.(*http.Transport)
	require.True(t, ok)
	assert.Nil(t, tr.Proxy, "a proxy would dial for us, past the address check")
	assert.Equal(t, webhook.DefaultTimeout, c.Timeout)
}

func port(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	require.NoError(t, err)
	return u.Port()
}
