package provider

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics are the provider's Prometheus metrics. Each provider has its own
// registry, so several can run in one process (tests, the demo).
type metrics struct {
	reg           *prometheus.Registry
	deliveries    *prometheus.CounterVec // by result
	relays        *prometheus.CounterVec // outbound attempts by result
	sessions      prometheus.Counter
	signetLookups *prometheus.CounterVec // by result
	legacyIn      *prometheus.CounterVec // legacy MX outcomes
	tunnels       prometheus.Counter     // look-up tunnels opened
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umbra_deliveries_total",
			Help: "Inbound deliveries by result: stored, duplicate, or the refusal reason.",
		}, []string{"result"}),
		relays: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umbra_relay_attempts_total",
			Help: "Outbound delivery attempts by result: delivered, retry, bounced.",
		}, []string{"result"}),
		sessions: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "umbra_dmtp_sessions_total",
			Help: "Inbound DMTP connections.",
		}),
		signetLookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umbra_signet_lookups_total",
			Help: "Remote organisation look-ups (DNS + signet) by result: ok, temporary, permanent.",
		}, []string{"result"}),
		legacyIn: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "umbra_mx_total",
			Help: "Legacy MX outcomes: delivered (per recipient), refused-recipient, seal-failed.",
		}, []string{"result"}),
		tunnels: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "umbra_dmap_tunnels_total",
			Help: "Look-up tunnels opened for users to other domains' DMTP services.",
		}),
	}
	m.reg.MustRegister(m.deliveries, m.relays, m.sessions, m.signetLookups, m.legacyIn, m.tunnels)
	return m
}

// handler serves /metrics, with the queue gauges computed at scrape time
// from the store (depth and age of the oldest entry).
func (m *metrics) handler(p *Provider) http.Handler {
	depth := prometheus.NewDesc("umbra_queue_depth", "Messages waiting in the outbound queue.", nil, nil)
	age := prometheus.NewDesc("umbra_queue_oldest_seconds", "Age of the oldest message in the outbound queue.", nil, nil)
	m.reg.MustRegister(collector{descs: []*prometheus.Desc{depth, age}, collect: func(ch chan<- prometheus.Metric) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		entries, err := p.st.Queue().List(ctx)
		if err != nil {
			return
		}
		oldest := 0.0
		for _, e := range entries {
			oldest = max(oldest, p.cfg.Now().Sub(e.Created).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(depth, prometheus.GaugeValue, float64(len(entries)))
		ch <- prometheus.MustNewConstMetric(age, prometheus.GaugeValue, oldest)
	}})
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{}))
	return mux
}

type collector struct {
	descs   []*prometheus.Desc
	collect func(chan<- prometheus.Metric)
}

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) { c.collect(ch) }

// countDelivery counts one inbound delivery by its outcome.
func (p *Provider) countDelivery(err error, created bool) {
	var r *refusal
	switch {
	case err == nil && created:
		p.metrics.deliveries.WithLabelValues("stored").Inc()
	case err == nil:
		p.metrics.deliveries.WithLabelValues("duplicate").Inc()
	case errors.As(err, &r):
		p.metrics.deliveries.WithLabelValues(r.reason).Inc()
	default:
		p.metrics.deliveries.WithLabelValues("error").Inc()
	}
}
