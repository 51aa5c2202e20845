# BALLAST row "Node heterogeneity": a 20ms network where two nodes are
# weaker — n4 processes 4× slower and stops the world for 300ms every ~20s
# (GC), n5 2× slower with 500ms stalls every ~30s (fsync) behind a slower
# link from n1.
scenario "heterogeneous" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "20ms"
    jitter = "5ms"
  }
  link "n1" "n5" { delay = "60ms" }
  link "n5" "n1" { delay = "60ms" }
  node "n4" {
    slowdown    = 4
    pause_every = "20s"
    pause       = "300ms"
  }
  node "n5" {
    slowdown    = 2
    pause_every = "30s"
    pause       = "500ms"
  }
}
