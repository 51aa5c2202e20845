# Tuning only. Seven voters across a metro area (8ms) over a path that
# drops 4% of packets.
scenario "tune-lossy-metro" {
  nodes     = 7
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "8ms"
    jitter = "2ms"
    loss   = 0.04
  }
}
