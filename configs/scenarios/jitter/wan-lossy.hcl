# The ballast suite's "wan-lossy" network with no crash: every election here
# is unnecessary (reference 000's jitter-only claim is measured on this suite).
scenario "wan-lossy-nocrash" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  network {
    delay      = "40ms"
    jitter     = "10ms"
    tail_prob  = 0.02
    tail_delay = "200ms"
    loss       = 0.03
  }
}
