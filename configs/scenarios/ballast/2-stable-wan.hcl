# BALLAST row "Stable WAN": a cross-region network without trouble. 40ms
# one-way (80ms RTT, typical US east-west), 5ms jitter, a thin heavy tail.
scenario "stable-wan" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay      = "40ms"
    jitter     = "5ms"
    tail_prob  = 0.002
    tail_delay = "100ms"
  }
}
