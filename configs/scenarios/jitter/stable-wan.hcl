# The ballast suite's "stable-wan" network with no crash: every election here
# is unnecessary (reference 000's jitter-only claim is measured on this suite).
scenario "stable-wan-nocrash" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  network {
    delay      = "40ms"
    jitter     = "5ms"
    tail_prob  = 0.002
    tail_delay = "100ms"
  }
}
