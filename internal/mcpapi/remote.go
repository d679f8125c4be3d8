package mcpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// Remote calls a running server over HTTP as one user, for `todo-api mcp`
// (the tools over stdio, for a local agent): it logs in with the email and
// password, and when the access token expires it refreshes it (the refresh
// token rotates), or logs in again when the session has ended.
type Remote struct {
	base            *url.URL
	email, password string
	client          *http.Client

	mu      sync.Mutex
	access  string
	refresh string // the refresh token: the refresh_token cookie's value
}

// NewRemote returns a Remote for the server at base (http://localhost:8000).
func NewRemote(base, email, password string, client *http.Client) (*Remote, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("TODO_API_URL is not the server's base URL, such as http://localhost:8000")
	}
	if email == "" || password == "" {
		return nil, errors.New("set TODO_EMAIL and TODO_PASSWORD to the account the tools act as")
	}
	if client == nil {
		client = &http.Client{}
	}
	c := *client
	// A redirect is answered as it is: following one would send the login
	// form (the password) or the token to wherever it points.
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Remote{base: u, email: email, password: password, client: &c}, nil
}

// Call sends r with the session's access token, renewing the token once
// when the server says it expired or is no longer valid.
func (rm *Remote) Call(ctx context.Context, _ *mcp.CallToolRequest, r *http.Request) (*http.Response, error) {
	token, err := rm.token(ctx, "")
	if err != nil {
		return nil, err
	}
	resp, err := rm.send(r, token)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	_ = resp.Body.Close()
	if token, err = rm.token(ctx, token); err != nil {
		return nil, err
	}
	if r.GetBody != nil {
		if r.Body, err = r.GetBody(); err != nil {
			return nil, err
		}
	}
	return rm.send(r, token)
}

func (rm *Remote) send(r *http.Request, token string) (*http.Response, error) {
	out := r.Clone(r.Context())
	u := *rm.base
	u.Path, u.RawPath, u.RawQuery = rm.base.Path+r.URL.Path, rm.base.EscapedPath()+r.URL.EscapedPath(), r.URL.RawQuery
	out.URL = &u
	out.Host, out.RequestURI = "", ""
	out.Header.Set("Authorization", "Bearer "+token)
	return rm.client.Do(out)
}

// token is the access token to use: the current one, unless it is stale
// (the one a request was refused with), then a refreshed one, else a new
// login's.
func (rm *Remote) token(ctx context.Context, stale string) (string, error) {
	rm.mu.Lock()
	defer rm.mu.Unlock()
	if rm.access != "" && rm.access != stale {
		return rm.access, nil
	}
	if rm.refresh != "" {
		if err := rm.authenticate(ctx, "/api/v1/auth/refresh", nil); err == nil {
			return rm.access, nil
		}
	}
	form := url.Values{"username": {rm.email}, "password": {rm.password}}
	if err := rm.authenticate(ctx, "/api/v1/auth/login", strings.NewReader(form.Encode())); err != nil {
		return "", err
	}
	return rm.access, nil
}

// authenticate logs in (form) or refreshes (form nil), keeping the tokens.
func (rm *Remote) authenticate(ctx context.Context, path string, form io.Reader) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodPost, rm.base.String()+path, form)
	if err != nil {
		return err
	}
	if form != nil {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	} else {
		r.Header.Set("Cookie", "refresh_token="+rm.refresh)
	}
	resp, err := rm.client.Do(r)
	if err != nil {
		return fmt.Errorf("reach %s: %w", rm.base.Redacted(), err)
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
		Detail      string `json:"detail"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&body); err != nil || resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s at %s: %d %s", path, rm.base.Redacted(), resp.StatusCode, body.Detail)
	}
	rm.access = body.AccessToken
	for _, c := range resp.Cookies() {
		if c.Name == "refresh_token" {
			rm.refresh = c.Value
		}
	}
	return nil
}
