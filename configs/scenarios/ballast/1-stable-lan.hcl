# BALLAST row "Stable LAN": a healthy datacenter network. Sub-millisecond
# delay, tiny jitter, no loss. Leader crashes every minute on average so that
# detection speed — not just stability — decides the result.
scenario "stable-lan" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "0.5ms"
    jitter = "0.2ms"
  }
}
