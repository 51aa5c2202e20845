# Followers with stop-the-world pauses (JVM-style GC, fsync stalls) of
# 600-800ms on a LAN: a timeout shorter than the pause elects needlessly.
scenario "gc-pause-followers" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "90s"
    downtime      = "10s"
  }
  network {
    delay  = "0.5ms"
    jitter = "0.2ms"
  }
  node "n2" {
    pause_every = "15s"
    pause       = "600ms"
  }
  node "n3" {
    pause_every = "25s"
    pause       = "800ms"
  }
  node "n4" {
    pause_every = "40s"
    pause       = "700ms"
  }
}
