# Tuning only. A pre-vote WAN (50ms) whose links all degrade at once for
# long spells: +300ms and 35% loss for ~2.5s every ~20s, longer than a
# leader's lease and longer than any election takes; the burst scenario
# of the tuning suite where leaders lose their lease and elections fail.
scenario "tune-wan-storms" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "45s"
    downtime      = "8s"
  }
  network {
    delay      = "50ms"
    jitter     = "6ms"
    tail_prob  = 0.01
    tail_delay = "250ms"
    loss       = 0.01
    burst {
      mean_interval = "20s"
      mean_length   = "2500ms"
      extra_delay   = "300ms"
      loss          = 0.35
    }
  }
}
