// Package config reads the service's configuration from the environment once,
// at start-up, and reports every problem in it together.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/kelseyhightower/envconfig"
)

// Config is the validated configuration of `todo-api serve`.
type Config struct {
	DatabaseURL string
	// DatabaseDirectURL reaches PostgreSQL without a pooler: for what needs
	// a session of its own (LISTEN, migrations). Defaults to DatabaseURL.
	DatabaseDirectURL string
	// TransactionPooler: DatabaseURL goes through a pooler in transaction
	// mode (PgBouncer).
	TransactionPooler   bool
	JWTSecret           []byte // the bytes of JWT_SECRET_KEY exactly as given
	Port                int
	CORSOrigins         []string
	DBPoolMin           int32
	DBPoolMax           int32
	DBPoolRecycle       time.Duration
	DBConnectionTimeout time.Duration
	DBStatementTimeout  time.Duration
	AccessTokenTTL      time.Duration
	RefreshTokenTTL     time.Duration
	RefreshReuseGrace   time.Duration
	BcryptCost          int
	AuthRateLimit       int
	RefreshRateLimit    int
	AuthRateWindow      time.Duration
	TrustedProxies      []*net.IPNet
	CookieSecure        bool
	LogLevel            slog.Level
	LogFormat           string
	ShutdownTimeout     time.Duration
	ShutdownDelay       time.Duration
	MetricsAddr         string // "" turns the metrics listener off
	// ChangesRetention is how long a deletion stays in the change feed; a
	// cursor older than the deletions pruned is CURSOR_EXPIRED.
	ChangesRetention time.Duration
	// EventStreamsPerUser bounds one user's open GET /events on a process.
	EventStreamsPerUser int
	// EventStreamsMax bounds every open GET /events of a process.
	EventStreamsMax int
	// Events for other services (asyncapi/events.yaml). NATSURL "" turns
	// the NATS relay off.
	NATSURL             string
	EventsSubjectPrefix string
	EventsStream        string
	EventsRetention     string // limits, interest or workqueue
	EventsMaxAge        time.Duration
	EventsDuplicates    time.Duration
	WebhookAllowHTTP    bool // http:// webhook URLs (development)
	WebhookAllowPrivate bool // webhooks to loopback and private addresses (development)
	// ReminderMaxLateness: a reminder later than this is marked, not delivered.
	ReminderMaxLateness time.Duration
	// JobRescueAfter: a River job running this long is run again (its
	// replica is taken to have died).
	JobRescueAfter time.Duration
}

// raw is the environment as text; envconfig fills it and applies defaults,
// and Load parses each value so that every bad one is reported.
type raw struct {
	DatabaseURL         string `envconfig:"DATABASE_URL"`
	DatabaseDirectURL   string `envconfig:"DATABASE_DIRECT_URL"`
	TransactionPooler   string `envconfig:"DB_TRANSACTION_POOLER" default:"false"`
	JWTSecretKey        string `envconfig:"JWT_SECRET_KEY"`
	Port                string `envconfig:"PORT" default:"8000"`
	CORSOrigins         string `envconfig:"CORS_ORIGINS" default:"http://localhost:3000,http://localhost:5173,http://localhost:8080,http://localhost:8000"`
	DBPoolMin           string `envconfig:"DB_POOL_MIN" default:"2"`
	DBPoolMax           string `envconfig:"DB_POOL_MAX" default:"5"`
	DBPoolRecycle       string `envconfig:"DB_POOL_RECYCLE" default:"3600"`
	DBConnectionTimeout string `envconfig:"DB_CONNECTION_TIMEOUT" default:"30"`
	DBStatementTimeout  string `envconfig:"DB_STATEMENT_TIMEOUT" default:"10s"`
	AccessTokenTTL      string `envconfig:"ACCESS_TOKEN_TTL" default:"15m"`
	RefreshTokenTTL     string `envconfig:"REFRESH_TOKEN_TTL" default:"168h"`
	RefreshReuseGrace   string `envconfig:"REFRESH_REUSE_GRACE" default:"10s"`
	BcryptCost          string `envconfig:"BCRYPT_COST" default:"12"`
	AuthRateLimit       string `envconfig:"AUTH_RATE_LIMIT" default:"5"`
	RefreshRateLimit    string `envconfig:"REFRESH_RATE_LIMIT" default:"10"`
	AuthRateWindow      string `envconfig:"AUTH_RATE_WINDOW" default:"1m"`
	TrustedProxies      string `envconfig:"TRUSTED_PROXIES"`
	CookieSecure        string `envconfig:"COOKIE_SECURE" default:"true"`
	LogLevel            string `envconfig:"LOG_LEVEL" default:"info"`
	LogFormat           string `envconfig:"LOG_FORMAT" default:"json"`
	ShutdownTimeout     string `envconfig:"SHUTDOWN_TIMEOUT" default:"20s"`
	ShutdownDelay       string `envconfig:"SHUTDOWN_DELAY" default:"5s"`
	MetricsAddr         string `envconfig:"METRICS_ADDR" default:":9091"`
	ChangesRetention    string `envconfig:"CHANGES_RETENTION" default:"720h"`
	EventStreamsPerUser string `envconfig:"EVENT_STREAMS_PER_USER" default:"10"`
	EventStreamsMax     string `envconfig:"EVENT_STREAMS_MAX" default:"1000"`
	NATSURL             string `envconfig:"NATS_URL"`
	EventsSubjectPrefix string `envconfig:"EVENTS_SUBJECT_PREFIX" default:"todo"`
	EventsStream        string `envconfig:"EVENTS_STREAM" default:"TODO_EVENTS"`
	EventsRetention     string `envconfig:"EVENTS_RETENTION" default:"limits"`
	EventsMaxAge        string `envconfig:"EVENTS_MAX_AGE" default:"168h"`
	EventsDuplicates    string `envconfig:"EVENTS_DUPLICATE_WINDOW" default:"2m"`
	WebhookAllowHTTP    string `envconfig:"WEBHOOK_ALLOW_HTTP" default:"false"`
	WebhookAllowPrivate string `envconfig:"WEBHOOK_ALLOW_PRIVATE" default:"false"`
	ReminderMaxLateness string `envconfig:"REMINDER_MAX_LATENESS" default:"24h"`
	JobRescueAfter      string `envconfig:"JOB_RESCUE_AFTER" default:"1m"`
}

// RequestTimeout is how long a request may work: one wait for a connection
// and one statement's time, with room for the rest. Past it the request
// answers 503; the HTTP write timeout is longer (WriteTimeout), so that answer
// always reaches the client.
func (c Config) RequestTimeout() time.Duration {
	return c.DBConnectionTimeout + c.DBStatementTimeout + 5*time.Second
}

// WriteTimeout is the HTTP server's write timeout: the request timeout plus
// the time to write the answer.
func (c Config) WriteTimeout() time.Duration { return c.RequestTimeout() + 5*time.Second }

// MinSecretHexChars is the shortest JWT_SECRET_KEY accepted: 32 bytes in hex.
const MinSecretHexChars = 64

// Load reads and validates the environment. The error, if any, holds one line
// per problem. warnings lists settings that work but are weak.
func Load() (cfg Config, warnings []string, err error) {
	var r raw
	if err := envconfig.Process("", &r); err != nil {
		return Config{}, nil, err
	}
	p := &parser{}
	cfg.DatabaseURL = p.databaseURL(r.DatabaseURL)
	cfg.DatabaseDirectURL = cfg.DatabaseURL
	if r.DatabaseDirectURL != "" {
		cfg.DatabaseDirectURL = p.urlOf("DATABASE_DIRECT_URL", r.DatabaseDirectURL)
	}
	cfg.TransactionPooler = p.boolean("DB_TRANSACTION_POOLER", r.TransactionPooler)
	cfg.JWTSecret = p.secret(r.JWTSecretKey)
	cfg.Port = p.intIn("PORT", r.Port, 1, 65535)
	cfg.CORSOrigins = p.origins(r.CORSOrigins)
	cfg.DBPoolMin = int32(p.intIn("DB_POOL_MIN", r.DBPoolMin, 0, 1000))
	cfg.DBPoolMax = int32(p.intIn("DB_POOL_MAX", r.DBPoolMax, 1, 1000))
	if cfg.DBPoolMin > cfg.DBPoolMax && cfg.DBPoolMax > 0 {
		p.fail("DB_POOL_MIN (%d) must not exceed DB_POOL_MAX (%d)", cfg.DBPoolMin, cfg.DBPoolMax)
	}
	cfg.DBPoolRecycle = time.Duration(p.intIn("DB_POOL_RECYCLE", r.DBPoolRecycle, 1, 1<<31-1)) * time.Second
	cfg.DBConnectionTimeout = time.Duration(p.intIn("DB_CONNECTION_TIMEOUT", r.DBConnectionTimeout, 1, 3600)) * time.Second
	cfg.DBStatementTimeout = p.duration("DB_STATEMENT_TIMEOUT", r.DBStatementTimeout, time.Millisecond)
	cfg.AccessTokenTTL = p.duration("ACCESS_TOKEN_TTL", r.AccessTokenTTL, time.Second)
	cfg.RefreshTokenTTL = p.duration("REFRESH_TOKEN_TTL", r.RefreshTokenTTL, time.Second)
	cfg.RefreshReuseGrace = p.duration("REFRESH_REUSE_GRACE", r.RefreshReuseGrace, 0)
	cfg.BcryptCost = p.intIn("BCRYPT_COST", r.BcryptCost, 4, 31)
	cfg.AuthRateLimit = p.intIn("AUTH_RATE_LIMIT", r.AuthRateLimit, 0, 1_000_000)
	cfg.RefreshRateLimit = p.intIn("REFRESH_RATE_LIMIT", r.RefreshRateLimit, 0, 1_000_000)
	cfg.AuthRateWindow = p.duration("AUTH_RATE_WINDOW", r.AuthRateWindow, time.Second)
	cfg.TrustedProxies = p.cidrs(r.TrustedProxies)
	cfg.CookieSecure = p.boolean("COOKIE_SECURE", r.CookieSecure)
	cfg.LogLevel = p.level(r.LogLevel)
	cfg.LogFormat = p.oneOf("LOG_FORMAT", r.LogFormat, "json", "text")
	cfg.ShutdownTimeout = p.duration("SHUTDOWN_TIMEOUT", r.ShutdownTimeout, time.Second)
	cfg.ShutdownDelay = p.duration("SHUTDOWN_DELAY", r.ShutdownDelay, 0)
	cfg.MetricsAddr = p.listenAddr("METRICS_ADDR", r.MetricsAddr)
	cfg.ChangesRetention = p.duration("CHANGES_RETENTION", r.ChangesRetention, time.Hour)
	cfg.EventStreamsPerUser = p.intIn("EVENT_STREAMS_PER_USER", r.EventStreamsPerUser, 1, 1000)
	cfg.EventStreamsMax = p.intIn("EVENT_STREAMS_MAX", r.EventStreamsMax, 1, 1_000_000)
	cfg.NATSURL = p.natsURL(r.NATSURL)
	cfg.EventsSubjectPrefix = p.subjectPrefix(r.EventsSubjectPrefix)
	cfg.EventsStream = p.streamName(r.EventsStream)
	cfg.EventsRetention = p.oneOf("EVENTS_RETENTION", r.EventsRetention, "limits", "interest", "workqueue")
	cfg.EventsMaxAge = p.duration("EVENTS_MAX_AGE", r.EventsMaxAge, time.Minute)
	cfg.EventsDuplicates = p.duration("EVENTS_DUPLICATE_WINDOW", r.EventsDuplicates, time.Second)
	if cfg.EventsDuplicates > cfg.EventsMaxAge && cfg.EventsMaxAge > 0 {
		p.fail("EVENTS_DUPLICATE_WINDOW (%s) must not exceed EVENTS_MAX_AGE (%s)", cfg.EventsDuplicates, cfg.EventsMaxAge)
	}
	cfg.WebhookAllowHTTP = p.boolean("WEBHOOK_ALLOW_HTTP", r.WebhookAllowHTTP)
	cfg.WebhookAllowPrivate = p.boolean("WEBHOOK_ALLOW_PRIVATE", r.WebhookAllowPrivate)
	cfg.ReminderMaxLateness = p.duration("REMINDER_MAX_LATENESS", r.ReminderMaxLateness, time.Second)
	cfg.JobRescueAfter = p.duration("JOB_RESCUE_AFTER", r.JobRescueAfter, time.Second)

	if len(p.problems) > 0 {
		return Config{}, nil, errors.New(strings.Join(p.problems, "\n"))
	}
	if cfg.BcryptCost < 12 {
		warnings = append(warnings, fmt.Sprintf("BCRYPT_COST=%d is below the recommended 12; use it for development only", cfg.BcryptCost))
	}
	if cfg.WebhookAllowHTTP || cfg.WebhookAllowPrivate {
		warnings = append(warnings, "WEBHOOK_ALLOW_HTTP/WEBHOOK_ALLOW_PRIVATE: webhooks may reach plain HTTP or this network's private addresses; use them for development only")
	}
	if cfg.JobRescueAfter <= 30*time.Second {
		warnings = append(warnings, fmt.Sprintf("JOB_RESCUE_AFTER=%s is not above a webhook delivery's 30 s timeout: a slow delivery may be sent twice; use it for tests only", cfg.JobRescueAfter))
	}
	if !cfg.CookieSecure {
		warnings = append(warnings, "COOKIE_SECURE=false: the refresh cookie is sent over plain HTTP; use it for development only")
	}
	return cfg, warnings, nil
}

// DatabaseURL reads only the database's URL, for commands that need nothing
// else (migrations): DATABASE_DIRECT_URL when set, else DATABASE_URL.
func DatabaseURL() (string, error) {
	var r raw
	if err := envconfig.Process("", &r); err != nil {
		return "", err
	}
	p := &parser{}
	var u string
	if r.DatabaseDirectURL != "" {
		u = p.urlOf("DATABASE_DIRECT_URL", r.DatabaseDirectURL)
	} else {
		u = p.databaseURL(r.DatabaseURL)
	}
	if len(p.problems) > 0 {
		return "", errors.New(strings.Join(p.problems, "\n"))
	}
	return u, nil
}

type parser struct{ problems []string }

func (p *parser) fail(format string, args ...any) {
	p.problems = append(p.problems, fmt.Sprintf(format, args...))
}

func (p *parser) databaseURL(s string) string {
	if s == "" {
		p.fail("DATABASE_URL is required, e.g. postgres://user:password@localhost:5432/todo?sslmode=disable")
		return ""
	}
	return p.urlOf("DATABASE_URL", s)
}

func (p *parser) urlOf(name, s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		// Never echo the value: it may hold a password.
		p.fail("%s must be a postgres:// or postgresql:// URL", name)
		return ""
	}
	return s
}

func (p *parser) secret(s string) []byte {
	const how = "generate one with: openssl rand -hex 32"
	switch {
	case s == "":
		p.fail("JWT_SECRET_KEY is required: at least %d hex characters (32 bytes); %s", MinSecretHexChars, how)
	case len(s) < MinSecretHexChars:
		p.fail("JWT_SECRET_KEY is too short (%d characters): it needs at least %d hex characters (32 bytes); %s", len(s), MinSecretHexChars, how)
	default:
		if _, err := hex.DecodeString(s); err != nil || len(s)%2 != 0 {
			p.fail("JWT_SECRET_KEY must be hexadecimal (0-9, a-f) with an even number of characters; %s", how)
		}
	}
	return []byte(s)
}

func (p *parser) intIn(name, s string, lo, hi int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil || n < lo || n > hi {
		p.fail("%s must be an integer from %d to %d, got %q", name, lo, hi, s)
		return 0
	}
	return n
}

func (p *parser) duration(name, s string, least time.Duration) time.Duration {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil || d < least {
		p.fail("%s must be a Go duration of at least %s (such as 90s, 15m or 168h), got %q", name, least, s)
		return 0
	}
	return d
}

// listenAddr checks a host:port to listen on ("" allowed: off).
func (p *parser) listenAddr(name, s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	host, port, err := net.SplitHostPort(s)
	n, perr := strconv.Atoi(port)
	if err != nil || perr != nil || n < 0 || n > 65535 || strings.ContainsAny(host, " /") {
		p.fail("%s must be host:port or :port to listen on (such as :9091), or empty to turn it off, got %q", name, s)
		return ""
	}
	return s
}

func (p *parser) boolean(name, s string) bool {
	b, err := strconv.ParseBool(strings.TrimSpace(s))
	if err != nil {
		p.fail("%s must be true or false, got %q", name, s)
	}
	return b
}

func (p *parser) oneOf(name, s string, allowed ...string) string {
	v := strings.ToLower(strings.TrimSpace(s))
	for _, a := range allowed {
		if v == a {
			return v
		}
	}
	p.fail("%s must be one of %s, got %q", name, strings.Join(allowed, ", "), s)
	return ""
}

func (p *parser) level(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		p.fail("LOG_LEVEL must be one of debug, info, warn, error, got %q", s)
	}
	return l
}

func (p *parser) origins(s string) []string {
	var out []string
	for _, o := range strings.Split(s, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			p.fail("CORS_ORIGINS must not contain '*': credentials (the refresh cookie) are allowed, so list each origin, e.g. https://app.example.com")
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			p.fail("CORS_ORIGINS entry %q is not an origin such as https://app.example.com", o)
			continue
		}
		out = append(out, strings.TrimSuffix(o, "/"))
	}
	return out
}

func (p *parser) cidrs(s string) []*net.IPNet {
	var out []*net.IPNet
	for _, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") { // a bare address trusts just that host
			if ip := net.ParseIP(c); ip != nil {
				bits := 8 * len(ip.To16())
				if ip.To4() != nil {
					ip, bits = ip.To4(), 32
				}
				out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
				continue
			}
		}
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			p.fail("TRUSTED_PROXIES entry %q is not a CIDR such as 10.0.0.0/8 or an IP address", c)
			continue
		}
		out = append(out, n)
	}
	return out
}

// Port reads only PORT, for the healthcheck command.
func Port() (int, error) {
	var r raw
	if err := envconfig.Process("", &r); err != nil {
		return 0, err
	}
	p := &parser{}
	n := p.intIn("PORT", r.Port, 1, 65535)
	if len(p.problems) > 0 {
		return 0, errors.New(p.problems[0])
	}
	return n, nil
}

// natsURL accepts "" (no NATS) or nats:// / tls:// URLs, comma-separated
// for a cluster's servers.
func (p *parser) natsURL(s string) string {
	if s == "" {
		return ""
	}
	for _, one := range strings.Split(s, ",") {
		u, err := url.Parse(strings.TrimSpace(one))
		if err != nil || (u.Scheme != "nats" && u.Scheme != "tls") || u.Host == "" {
			p.fail("NATS_URL must be empty (no event bus) or nats://host:port URLs separated by commas, e.g. nats://localhost:4222")
			return ""
		}
	}
	return s
}

// subjectPrefix accepts one or more NATS subject tokens (letters, digits,
// '-' and '_', separated by dots).
func (p *parser) subjectPrefix(s string) string {
	for _, tok := range strings.Split(s, ".") {
		if tok == "" || strings.Trim(tok, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
			p.fail("EVENTS_SUBJECT_PREFIX must be NATS subject tokens (letters, digits, - and _) separated by dots, e.g. todo")
			return ""
		}
	}
	return s
}

// streamName accepts a JetStream stream name: letters, digits, '-' and '_'.
func (p *parser) streamName(s string) string {
	if s == "" || len(s) > 64 || strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != "" {
		p.fail("EVENTS_STREAM must be 1-64 letters, digits, - or _, e.g. TODO_EVENTS")
		return ""
	}
	return s
}
