# The ballast suite's "heterogeneous" network with no crash: every election here
# is unnecessary (reference 000's jitter-only claim is measured on this suite).
scenario "heterogeneous-nocrash" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
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
