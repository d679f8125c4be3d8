package config_test

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/todoapp/todo-api/internal/config"
)

const goodSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// setEnv sets the required variables plus extra (name, value pairs).
// t.Setenv makes these tests sequential, as the environment is global.
func setEnv(t *testing.T, extra ...string) {
	t.Setenv("DATABASE_URL", "postgres://u:p@localhost:5432/todo")
	t.Setenv("JWT_SECRET_KEY", goodSecret)
	for i := 0; i+1 < len(extra); i += 2 {
		t.Setenv(extra[i], extra[i+1])
	}
}

func TestDefaults(t *testing.T) {
	setEnv(t)
	cfg, warnings, err := config.Load()
	require.NoError(t, err)
	assert.Empty(t, warnings)
	assert.Equal(t, 8000, cfg.Port)
	assert.Equal(t, []string{"http://localhost:3000", "http://localhost:5173", "http://localhost:8080", "http://localhost:8000"}, cfg.CORSOrigins)
	assert.Equal(t, int32(2), cfg.DBPoolMin)
	assert.Equal(t, int32(5), cfg.DBPoolMax)
	assert.Equal(t, time.Hour, cfg.DBPoolRecycle)
	assert.Equal(t, 30*time.Second, cfg.DBConnectionTimeout)
	assert.Equal(t, 10*time.Second, cfg.DBStatementTimeout)
	assert.Equal(t, ":9091", cfg.MetricsAddr)
	assert.Equal(t, cfg.DatabaseURL, cfg.DatabaseDirectURL, "direct is the same database unless told")
	assert.False(t, cfg.TransactionPooler)
	assert.Equal(t, 5*time.Second, cfg.ShutdownDelay)
	assert.Equal(t, 720*time.Hour, cfg.ChangesRetention)
	assert.Equal(t, 10, cfg.EventStreamsPerUser)
	// A request may wait the whole connection timeout and run a statement,
	// and still answer before the write timeout cuts it off.
	assert.Greater(t, cfg.RequestTimeout(), cfg.DBConnectionTimeout+cfg.DBStatementTimeout)
	assert.Greater(t, cfg.WriteTimeout(), cfg.RequestTimeout())
	assert.Equal(t, 15*time.Minute, cfg.AccessTokenTTL)
	assert.Equal(t, 168*time.Hour, cfg.RefreshTokenTTL)
	assert.Equal(t, 10*time.Second, cfg.RefreshReuseGrace)
	assert.Equal(t, 12, cfg.BcryptCost)
	assert.Equal(t, 5, cfg.AuthRateLimit)
	assert.Equal(t, 10, cfg.RefreshRateLimit)
	assert.Equal(t, time.Minute, cfg.AuthRateWindow)
	assert.Empty(t, cfg.TrustedProxies)
	assert.True(t, cfg.CookieSecure)
	assert.Equal(t, slog.LevelInfo, cfg.LogLevel)
	assert.Equal(t, "json", cfg.LogFormat)
	assert.Equal(t, []byte(goodSecret), cfg.JWTSecret, "the key is the variable's bytes, not hex-decoded")
}

func TestOverrides(t *testing.T) {
	setEnv(t, "PORT", "9000", "CORS_ORIGINS", "https://app.example.com, http://localhost:5173",
		"TRUSTED_PROXIES", "10.0.0.0/8,192.0.2.7", "AUTH_RATE_LIMIT", "0", "BCRYPT_COST", "10",
		"COOKIE_SECURE", "false", "LOG_LEVEL", "debug", "LOG_FORMAT", "text")
	cfg, warnings, err := config.Load()
	require.NoError(t, err)
	assert.Equal(t, 9000, cfg.Port)
	assert.Equal(t, []string{"https://app.example.com", "http://localhost:5173"}, cfg.CORSOrigins)
	require.Len(t, cfg.TrustedProxies, 2)
	assert.Equal(t, "192.0.2.7/32", cfg.TrustedProxies[1].String())
	assert.Equal(t, 0, cfg.AuthRateLimit)
	assert.Len(t, warnings, 2, "weak bcrypt cost and insecure cookie are warned about: %v", warnings)
	assert.Equal(t, slog.LevelDebug, cfg.LogLevel)
}

func TestInvalid(t *testing.T) {
	cases := map[string]struct {
		env  []string
		want string
	}{
		"MissingSecret":       {[]string{"JWT_SECRET_KEY", ""}, "JWT_SECRET_KEY is required"},
		"ShortSecret":         {[]string{"JWT_SECRET_KEY", "abcdef"}, "openssl rand -hex 32"},
		"NonHexSecret":        {[]string{"JWT_SECRET_KEY", strings.Repeat("z", 64)}, "must be hexadecimal"},
		"CORSWildcard":        {[]string{"CORS_ORIGINS", "*"}, "CORS_ORIGINS must not contain '*'"},
		"CORSNotAnOrigin":     {[]string{"CORS_ORIGINS", "localhost:3000"}, "is not an origin"},
		"MissingDatabase":     {[]string{"DATABASE_URL", ""}, "DATABASE_URL is required"},
		"NotPostgres":         {[]string{"DATABASE_URL", "mysql://x"}, "postgres://"},
		"BadPort":             {[]string{"PORT", "http"}, "PORT must be an integer"},
		"BcryptTooLow":        {[]string{"BCRYPT_COST", "3"}, "BCRYPT_COST must be an integer from 4 to 31"},
		"PoolMinAboveMax":     {[]string{"DB_POOL_MIN", "6"}, "must not exceed DB_POOL_MAX"},
		"BadDuration":         {[]string{"ACCESS_TOKEN_TTL", "15"}, "ACCESS_TOKEN_TTL must be a Go duration"},
		"BadStatementTimeout": {[]string{"DB_STATEMENT_TIMEOUT", "0"}, "DB_STATEMENT_TIMEOUT must be a Go duration of at least 1ms"},
		"BadMetricsAddr":      {[]string{"METRICS_ADDR", "9091"}, "METRICS_ADDR must be host:port or :port"},
		"BadDirectURL":        {[]string{"DATABASE_DIRECT_URL", "mysql://x"}, "DATABASE_DIRECT_URL must be a postgres://"},
		"BadPoolerFlag":       {[]string{"DB_TRANSACTION_POOLER", "pgbouncer"}, "DB_TRANSACTION_POOLER must be true or false"},
		"BadShutdownDelay":    {[]string{"SHUTDOWN_DELAY", "-1s"}, "SHUTDOWN_DELAY must be a Go duration"},
		"ShortRetention":      {[]string{"CHANGES_RETENTION", "5m"}, "CHANGES_RETENTION must be a Go duration of at least 1h0m0s"},
		"NoStreams":           {[]string{"EVENT_STREAMS_PER_USER", "0"}, "EVENT_STREAMS_PER_USER must be an integer from 1 to 1000"},
		"NoStreamsInAll":      {[]string{"EVENT_STREAMS_MAX", "0"}, "EVENT_STREAMS_MAX must be an integer from 1 to 1000000"},
		"BadCIDR":             {[]string{"TRUSTED_PROXIES", "10.0.0.0/99"}, "TRUSTED_PROXIES entry"},
		"BadBool":             {[]string{"COOKIE_SECURE", "maybe"}, "COOKIE_SECURE must be true or false"},
		"BadLogFormat":        {[]string{"LOG_FORMAT", "xml"}, "LOG_FORMAT must be one of json, text"},
		"NegativeRateLimit":   {[]string{"AUTH_RATE_LIMIT", "-1"}, "AUTH_RATE_LIMIT"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			setEnv(t, tc.env...)
			_, _, err := config.Load()
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestEveryProblemReportedOnItsOwnLine(t *testing.T) {
	setEnv(t, "JWT_SECRET_KEY", "c0ffee", "CORS_ORIGINS", "*", "PORT", "0", "DATABASE_URL", "")
	_, _, err := config.Load()
	require.Error(t, err)
	lines := strings.Split(err.Error(), "\n")
	assert.Len(t, lines, 4, "%q", lines)
	assert.NotContains(t, err.Error(), "c0ffee", "secret values are never echoed")
}

func TestDatabaseURLNeverEchoed(t *testing.T) {
	setEnv(t, "DATABASE_URL", "mysql://user:hunter2@host/db")
	_, _, err := config.Load()
	require.Error(t, err)
	assert.NotContains(t, err.Error(), "hunter2")
}
