# Generalization (reporting only; never tune on it). Five voters in two
# nearby data centres whose path degrades slowly: traffic is rerouted over
# a longer, busier path as the day's load grows, so the one-way delay
# climbs from 5ms to 85ms over the run (compressed from hours to
# minutes). A timeout chosen at the start is too short at the end, and
# one chosen for the end is slow at the start.
scenario "latency-drift" {
  nodes     = 5
  duration  = "4m"
  heartbeat = "50ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "5ms"
    drift  = "80ms"
    jitter = "3ms"
  }
}
