# The ballast suite's "wan-bursty" network with no crash: every election here
# is unnecessary (reference 000's jitter-only claim is measured on this suite).
scenario "wan-bursty-nocrash" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
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
