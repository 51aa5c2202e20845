# Training only: a 60ms WAN with a heavier tail and some loss.
scenario "train-wan-tail" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "50s"
    downtime      = "10s"
  }
  network {
    delay      = "60ms"
    jitter     = "15ms"
    tail_prob  = 0.03
    tail_delay = "150ms"
    loss       = 0.02
  }
}
