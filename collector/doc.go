// Package collector owns the Sample type — one observation of one Raft node
// per agent tick — the Tracker that produces it, and the sources that feed
// it: /proc CPU accounting and Prometheus-text scrapers. Sources parse from
// io.Readers so they are tested on captured real output.
//
// Tracker is the single definition of every tracked feature (heartbeat
// gaps, the election window and failed elections, stable-leader time, the
// RTT window, replication gap, retries, CPU, unreachable voters): the
// simulator and every host adapter feed it events and read its Sample, so
// the model sees the same quantities wherever it runs. Its behaviour is
// pinned by the event scripts in testdata/tracker.
//
// collector imports nothing from this module: every other package consumes
// its Sample.
package collector
