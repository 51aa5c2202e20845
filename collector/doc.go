// Package collector owns the Sample type — one observation of one Raft node
// per agent tick — and the sources that fill it: /proc CPU accounting, RTT
// probes and Prometheus-text scrapers. Sources parse from io.Readers so they
// are tested on captured real output.
//
// collector imports nothing from this module: every other package consumes
// its Sample.
package collector
