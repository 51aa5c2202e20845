# Tuning only: a pre-vote WAN whose links all surge at once (a congested
# uplink), for choosing parameters where a burst-prone WAN is concerned;
# the ballast suite reports on its own bursty WAN, never used for choosing.
scenario "tune-wan-surges" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "50s"
    downtime      = "8s"
  }
  network {
    delay      = "30ms"
    jitter     = "4ms"
    tail_prob  = 0.005
    tail_delay = "150ms"
    loss       = 0.005
    burst {
      mean_interval = "25s"
      mean_length   = "1500ms"
      extra_delay   = "200ms"
      loss          = 0.25
    }
  }
}
