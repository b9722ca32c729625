package ws

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts this node's sockets and pushes. A nil *Metrics counts
// nothing.
type Metrics struct {
	open    prometheus.Gauge
	pushes  prometheus.Counter
	latency prometheus.Histogram
	slow    prometheus.Counter
}

// NewMetrics registers the WebSocket metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "swiper_ws_sessions",
			Help: "WebSocket sessions open on this node.",
		}),
		pushes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiper_ws_events_pushed_total",
			Help: "Event frames written to WebSocket clients, live and replayed.",
		}),
		latency: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "swiper_ws_push_latency_seconds",
			Help:    "From a live event's time (for a match, the second like) to its frame being written.",
			Buckets: []float64{.0005, .001, .002, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		slow: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "swiper_ws_slow_consumer_disconnects_total",
			Help: "WebSocket clients closed with 4008 for not reading their events.",
		}),
	}
	reg.MustRegister(m.open, m.pushes, m.latency, m.slow)
	return m
}

func (m *Metrics) opened() {
	if m != nil {
		m.open.Inc()
	}
}

func (m *Metrics) closed() {
	if m != nil {
		m.open.Dec()
	}
}

func (m *Metrics) pushed(at time.Time) {
	if m == nil {
		return
	}
	m.pushes.Inc()
	if !at.IsZero() {
		if d := time.Since(at); d >= 0 {
			m.latency.Observe(d.Seconds())
		}
	}
}

func (m *Metrics) slowConsumer() {
	if m != nil {
		m.slow.Inc()
	}
}
