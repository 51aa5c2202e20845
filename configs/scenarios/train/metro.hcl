# Training only: a metro network (10ms one way) with 100ms heartbeats.
scenario "train-metro" {
  nodes     = 3
  duration  = "5m"
  heartbeat = "100ms"
  crash {
    mean_interval = "45s"
    downtime      = "8s"
  }
  network {
    delay      = "10ms"
    jitter     = "3ms"
    tail_prob  = 0.005
    tail_delay = "80ms"
  }
}
