# Frequent leader crashes on a LAN: detection speed is everything.
scenario "leader-crash-lan" {
  nodes     = 3
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "20s"
    downtime      = "5s"
  }
  network {
    delay  = "0.5ms"
    jitter = "0.2ms"
  }
}
