# Generalization (reporting only; never tune on it). Seven voters in one
# data centre (0.5ms apart) where one member's uplink is bad: a
# half-failed NIC or an overloaded top-of-rack port on n4. Everything n4
# sends has a 5% chance of a heavy-tail delay (mean 250ms, retransmits
# and queueing) and 4% is lost; what it receives is clean. The rest of
# the cluster is healthy.
scenario "flaky-member-link" {
  nodes     = 7
  duration  = "4m"
  heartbeat = "50ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "0.5ms"
    jitter = "0.3ms"
  }
  link "n4" "n1" {
    tail_prob  = 0.05
    tail_delay = "250ms"
    loss       = 0.04
  }
  link "n4" "n2" {
    tail_prob  = 0.05
    tail_delay = "250ms"
    loss       = 0.04
  }
  link "n4" "n3" {
    tail_prob  = 0.05
    tail_delay = "250ms"
    loss       = 0.04
  }
  link "n4" "n5" {
    tail_prob  = 0.05
    tail_delay = "250ms"
    loss       = 0.04
  }
  link "n4" "n6" {
    tail_prob  = 0.05
    tail_delay = "250ms"
    loss       = 0.04
  }
  link "n4" "n7" {
    tail_prob  = 0.05
    tail_delay = "250ms"
    loss       = 0.04
  }
}
