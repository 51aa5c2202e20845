# Tuning only. A five-node LAN (2ms) with brownouts: about every 20s, for
# ~0.5s, every link gains 80ms and drops 5% (a link flap, a spanning-tree
# reconvergence).
scenario "tune-lan-brownouts" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "2ms"
    jitter = "0.5ms"
    burst {
      mean_interval = "20s"
      mean_length   = "500ms"
      extra_delay   = "80ms"
      loss          = 0.05
    }
  }
}
