package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"syscall"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// UserAgent is sent with every delivery.
const UserAgent = "todo-api-webhooks/1"

// maxResponseBytes bounds what is read of a receiver's headers and of its
// body; the body is discarded, only the status counts.
const maxResponseBytes = 64 << 10

// NewSecret returns a new signing secret: "whsec_" and the base64 of 32
// random bytes, the form the Standard Webhooks libraries read.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook secret: %w", err)
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b), nil
}

// Result is the outcome of one delivery attempt.
type Result struct {
	StatusCode int           // the receiver's status; 0 when none came back
	OK         bool          // a 2xx came back
	Err        string        // why not OK, short and safe to show the endpoint's owner
	Duration   time.Duration // from sending to the last byte read
	// Cause is the underlying error, for the server's log only: its text
	// may name resolvers or other internals.
	Cause error
}

// Deliver signs body and POSTs it to url with client (from NewClient). msgID
// is the webhook-id (the same for every retry of one message, so receivers
// can drop duplicates); now is the signed webhook-timestamp. Any status
// other than 2xx is a failure, and so is a 3xx, which is not followed.
func Deliver(ctx context.Context, client *http.Client, url, secret, msgID string, body []byte, now time.Time) Result {
	wh, err := standardwebhooks.NewWebhook(secret)
	if err != nil {
		return Result{Err: "invalid signing secret", Cause: err}
	}
	sig, err := wh.Sign(msgID, now, body)
	if err != nil {
		return Result{Err: "signing failed", Cause: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return Result{Err: "invalid URL", Cause: err}
	}
	req.Header.Set("content-type", "application/json")
	req.Header.Set("user-agent", UserAgent)
	req.Header.Set(standardwebhooks.HeaderWebhookID, msgID)
	req.Header.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(standardwebhooks.HeaderWebhookSignature, sig)

	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return Result{Err: describe(err, client.Timeout), Cause: err, Duration: time.Since(start)}
	}
	// A slow or endless body ends with the client's timeout; a read error
	// changes nothing, the status has already been given.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseBytes))
	_ = resp.Body.Close()
	r := Result{StatusCode: resp.StatusCode, Duration: time.Since(start)}
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		r.OK = true
	case code >= 300 && code < 400:
		r.Err = fmt.Sprintf("redirect (%d) not followed", code)
	default:
		r.Err = fmt.Sprintf("status %d", code)
	}
	return r
}

// describe turns a transport error into a few words for the endpoint's
// owner. It never returns err's own text, which may name our resolver or
// other internals; nor the address a refused name resolved to (which would
// map the service's private network for anyone): the server's log has it.
func describe(err error, timeout time.Duration) string {
	var (
		addrErr *AddressError
		dnsErr  *net.DNSError
		certErr *tls.CertificateVerificationError
		netErr  net.Error
	)
	switch {
	case errors.As(err, &addrErr):
		return "the host's address is not public"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &netErr) && netErr.Timeout(), errors.Is(err, context.DeadlineExceeded):
		if timeout > 0 {
			return "timeout after " + timeout.String()
		}
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host not found"
		}
		return "DNS lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "host unreachable"
	case errors.As(err, &certErr):
		return "TLS certificate not valid"
	}
	return "connection failed"
}
