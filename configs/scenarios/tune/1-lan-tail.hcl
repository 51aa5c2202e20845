# Tuning only (choose parameters here; report on general and ballast). A
# five-node LAN (0.3ms) whose switches queue now and then: 1% of messages
# wait an extra ~40ms.
scenario "tune-lan-tail" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "50s"
    downtime      = "8s"
  }
  network {
    delay      = "0.3ms"
    jitter     = "0.1ms"
    tail_prob  = 0.01
    tail_delay = "40ms"
  }
}
