# Training only: shorter, more frequent bursts than ballast's.
scenario "train-bursts" {
  nodes     = 7
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "25ms"
    jitter = "5ms"
    loss   = 0.005
    burst {
      mean_interval = "15s"
      mean_length   = "1s"
      extra_delay   = "180ms"
      loss          = 0.2
    }
  }
}
