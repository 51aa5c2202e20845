# Tuning only. Five voters 3ms apart, two of them on weaker machines: n3
# handles messages 5× slower, n4 3× slower with 200ms pauses every ~15s.
scenario "tune-slow-followers" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "100ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "3ms"
    jitter = "1ms"
  }
  node "n3" {
    slowdown = 5
  }
  node "n4" {
    slowdown    = 3
    pause_every = "15s"
    pause       = "200ms"
  }
}
