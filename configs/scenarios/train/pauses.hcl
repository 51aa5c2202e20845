# Training only: followers and would-be leaders with GC-like pauses.
scenario "train-pauses" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "50s"
    downtime      = "8s"
  }
  network {
    delay  = "5ms"
    jitter = "2ms"
  }
  node "n2" {
    slowdown    = 3
    pause_every = "12s"
    pause       = "250ms"
  }
  node "n3" {
    pause_every = "25s"
    pause       = "600ms"
  }
}
