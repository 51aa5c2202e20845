# Tuning only. Three voters on three continents (110ms one way, ±10ms),
# with the 200ms heartbeat such a deployment needs.
scenario "tune-intercontinental" {
  nodes     = 3
  duration  = "5m"
  heartbeat = "200ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay      = "110ms"
    jitter     = "10ms"
    tail_prob  = 0.005
    tail_delay = "200ms"
  }
}
