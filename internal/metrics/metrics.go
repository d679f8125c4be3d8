// Package metrics defines the service's Prometheus metrics (prometheus/
// client_golang) in a registry of their own, served on METRICS_ADDR apart
// from the API. Names follow Prometheus conventions: a todo_ prefix, base
// units (_seconds), _total for counters. Operation labels are the spec's
// operationIds, plus "unknown" for anything else, so cardinality is bounded.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Unknown is the operation label of a request that matches no operation.
const Unknown = "unknown"

// Metrics holds the service's collectors.
type Metrics struct {
	registry     *prometheus.Registry
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	logins       *prometheus.CounterVec
	refreshReuse prometheus.Counter
	rateLimited  *prometheus.CounterVec
	bcryptWait   prometheus.Histogram
	published    prometheus.Counter
	publishErrs  prometheus.Counter
	deadEvents   prometheus.Counter
	deliveries   *prometheus.HistogramVec
	fired        prometheus.Histogram
	missed       prometheus.Counter
}

// New returns the metrics, registered with the Go, process and build-info
// collectors and, for pool, its connection statistics.
func New(pool *pgxpool.Pool, bcryptQueue func() int) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		registry: r,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_http_requests_total", Help: "HTTP requests answered, by operationId, method and status.",
		}, []string{"operation", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "todo_http_request_duration_seconds", Help: "Time to answer an HTTP request, by operationId and status.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"operation", "status"}),
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_logins_total", Help: "Login attempts by result: success, invalid_credentials, rate_limited, invalid_request, error.",
		}, []string{"result"}),
		refreshReuse: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "todo_refresh_token_reuse_total", Help: "Rotated refresh tokens replayed after the grace window (the session was revoked).",
		}),
		rateLimited: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "todo_rate_limited_requests_total", Help: "Requests refused with 429, by operationId.",
		}, []string{"operation"}),
		bcryptWait: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "todo_bcrypt_wait_seconds", Help: "Time a password hash or comparison waited for a bcrypt slot.",
			Buckets: []float64{.0001, .001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		published: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "todo_events_published_total", Help: "Events the relay published to NATS JetStream (acknowledged by the stream).",
		}),
		publishErrs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "todo_event_publish_errors_total", Help: "Batches of events NATS JetStream did not acknowledge (they are sent again).",
		}),
		deadEvents: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "todo_events_dead_total", Help: "Events that cannot be sent (kept in outbox_dead): they could not be built or exceed NATS's max_payload.",
		}),
		deliveries: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "todo_webhook_delivery_duration_seconds", Help: "Webhook deliveries by result (success, failure, refused), and their time.",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"result"}),
		fired: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "todo_reminder_lateness_seconds", Help: "Reminders fired (the count), by how late after their time.",
			Buckets: []float64{.1, .25, .5, 1, 2, 5, 10, 30, 60, 300, 3600},
		}),
		missed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "todo_reminders_missed_total", Help: "Reminders more than REMINDER_MAX_LATENESS late: marked fired, not delivered.",
		}),
	}
	r.MustRegister(m.requests, m.duration, m.logins, m.refreshReuse, m.rateLimited, m.bcryptWait,
		m.published, m.publishErrs, m.deadEvents, m.deliveries, m.fired, m.missed,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "todo_bcrypt_queue_length", Help: "Password hashes and comparisons waiting for a bcrypt slot.",
		}, func() float64 { return float64(bcryptQueue()) }),
	)
	if pool != nil {
		r.MustRegister(poolCollector{pool})
	}
	return m
}

// EventsPublished counts n events acknowledged by the stream.
func (m *Metrics) EventsPublished(n int) { m.published.Add(float64(n)) }

// EventPublishError counts a batch the stream did not acknowledge.
func (m *Metrics) EventPublishError() { m.publishErrs.Inc() }

// EventDead counts an event that cannot be sent.
func (m *Metrics) EventDead() { m.deadEvents.Inc() }

// WebhookDelivery records one delivery attempt: result is success, failure
// or refused (the address was not public).
func (m *Metrics) WebhookDelivery(result string, took time.Duration) {
	m.deliveries.WithLabelValues(result).Observe(took.Seconds())
}

// ReminderFired records a reminder delivered late after its time.
func (m *Metrics) ReminderFired(late time.Duration) { m.fired.Observe(late.Seconds()) }

// ReminderMissed counts a reminder too late to deliver.
func (m *Metrics) ReminderMissed() { m.missed.Inc() }

// ObserveJobs adds the gauge todo_jobs_waiting{queue}: River's jobs not yet
// done (available, scheduled or to be retried), as waiting reports them at
// each scrape.
func (m *Metrics) ObserveJobs(waiting func() map[string]int) {
	m.registry.MustRegister(jobsCollector(waiting))
}

var jobsDesc = prometheus.NewDesc("todo_jobs_waiting", "River jobs available, scheduled or to be retried, by queue.", []string{"queue"}, nil)

type jobsCollector func() map[string]int

func (jobsCollector) Describe(ch chan<- *prometheus.Desc) { ch <- jobsDesc }

func (c jobsCollector) Collect(ch chan<- prometheus.Metric) {
	for q, n := range c() {
		ch <- prometheus.MustNewConstMetric(jobsDesc, prometheus.GaugeValue, float64(n), q)
	}
}

// ObserveOutbox adds the gauges todo_events_pending and
// todo_events_oldest_age_seconds: the events written and not yet published
// (the outbox), as outbox reports them at each scrape.
func (m *Metrics) ObserveOutbox(outbox func() (pending int, oldest time.Duration)) {
	m.registry.MustRegister(outboxCollector(outbox))
}

var (
	pendingDesc = prometheus.NewDesc("todo_events_pending", "Events written and not yet published (the outbox).", nil, nil)
	oldestDesc  = prometheus.NewDesc("todo_events_oldest_age_seconds", "Age of the oldest event not yet published (0: none).", nil, nil)
)

type outboxCollector func() (int, time.Duration)

func (outboxCollector) Describe(ch chan<- *prometheus.Desc) { ch <- pendingDesc; ch <- oldestDesc }

func (c outboxCollector) Collect(ch chan<- prometheus.Metric) {
	n, oldest := c()
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, oldest.Seconds())
}

// ObserveStreams adds the gauge todo_event_streams: the event streams open
// on this process, as open reports them.
func (m *Metrics) ObserveStreams(open func() int) {
	m.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "todo_event_streams", Help: "Event streams (GET /events) open on this process.",
	}, func() float64 { return float64(open()) }))
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{Registry: m.registry})
}

// Request records an answered request. Each label must come from a bounded
// set: an operationId or Unknown, one of the standard methods or OTHER
// (httpx labels what clients send), a status the server chose.
func (m *Metrics) Request(operation, method string, status int, took time.Duration) {
	code := strconv.Itoa(status)
	m.requests.WithLabelValues(operation, method, code).Inc()
	m.duration.WithLabelValues(operation, code).Observe(took.Seconds())
}

// Login records a login attempt's result.
func (m *Metrics) Login(result string) { m.logins.WithLabelValues(result).Inc() }

// RefreshReuse records a replayed refresh token.
func (m *Metrics) RefreshReuse() { m.refreshReuse.Inc() }

// RateLimited records a 429 of operation.
func (m *Metrics) RateLimited(operation string) { m.rateLimited.WithLabelValues(operation).Inc() }

// BcryptWait records how long a bcrypt computation waited for its slot.
func (m *Metrics) BcryptWait(d time.Duration) { m.bcryptWait.Observe(d.Seconds()) }

// poolCollector reads the pool's statistics at each scrape.
type poolCollector struct{ pool *pgxpool.Pool }

var (
	poolInUse    = prometheus.NewDesc("todo_db_pool_connections_in_use", "Pool connections in use.", nil, nil)
	poolIdle     = prometheus.NewDesc("todo_db_pool_connections_idle", "Idle pool connections.", nil, nil)
	poolMax      = prometheus.NewDesc("todo_db_pool_connections_max", "The pool's maximum size (DB_POOL_MAX).", nil, nil)
	poolWaits    = prometheus.NewDesc("todo_db_pool_waits_total", "Acquisitions that had to wait for a connection.", nil, nil)
	poolWaitTime = prometheus.NewDesc("todo_db_pool_wait_seconds_total", "Time spent waiting for a connection.", nil, nil)
)

func (poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{poolInUse, poolIdle, poolMax, poolWaits, poolWaitTime} {
		ch <- d
	}
}

func (p poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := p.pool.Stat()
	ch <- prometheus.MustNewConstMetric(poolInUse, prometheus.GaugeValue, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(poolIdle, prometheus.GaugeValue, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(poolMax, prometheus.GaugeValue, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(poolWaits, prometheus.CounterValue, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(poolWaitTime, prometheus.CounterValue, s.EmptyAcquireWaitTime().Seconds())
}
