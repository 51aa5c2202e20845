# BALLAST row "Correlated bursts": every ~30s, for ~2s, every link at once
# gets 250ms extra delay and 30% loss (a congested uplink, a route flap).
# This is where fixed short timeouts panic.
scenario "wan-bursty" {
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
    tail_prob  = 0.01
    tail_delay = "300ms"
    loss       = 0.01
    burst {
      mean_interval = "30s"
      mean_length   = "2s"
      extra_delay   = "250ms"
      loss          = 0.3
    }
  }
}
