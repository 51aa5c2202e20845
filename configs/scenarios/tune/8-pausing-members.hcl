# Tuning only. A pre-vote metro cluster (12ms, one slower 45ms pair) with
# two weaker members that stop for GC: n3 3× slower with 250ms pauses
# every 15s, n5 2× slower with 400ms pauses every 25s; a leader that
# pauses sets every follower off at the heartbeat floor at once.
scenario "tune-pausing-members" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "45s"
    downtime      = "8s"
  }
  network {
    delay  = "12ms"
    jitter = "3ms"
  }
  link "n2" "n4" { delay = "45ms" }
  link "n4" "n2" { delay = "45ms" }
  node "n3" {
    slowdown    = 3
    pause_every = "15s"
    pause       = "250ms"
  }
  node "n5" {
    slowdown    = 2
    pause_every = "25s"
    pause       = "400ms"
  }
}
