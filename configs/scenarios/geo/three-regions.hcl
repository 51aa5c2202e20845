# Five voters in three regions: n1, n2 in us-east; n3, n4 in us-west; n5 in
# eu-west. One-way delays from public inter-region latency tables:
# us-east↔us-west ~35ms, us-east↔eu-west ~40ms, us-west↔eu-west ~70ms,
# inside a region ~0.5ms; jitter and a thin tail on the long paths.
scenario "three-regions" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "100ms"
  prevote   = true
  crash {
    mean_interval = "90s"
    downtime      = "15s"
  }
  network {
    delay      = "35ms"
    jitter     = "4ms"
    tail_prob  = 0.005
    tail_delay = "150ms"
    loss       = 0.001
  }
  link "n1" "n2" { delay = "0.5ms" }
  link "n2" "n1" { delay = "0.5ms" }
  link "n3" "n4" { delay = "0.5ms" }
  link "n4" "n3" { delay = "0.5ms" }
  link "n1" "n5" { delay = "40ms" }
  link "n5" "n1" { delay = "40ms" }
  link "n2" "n5" { delay = "40ms" }
  link "n5" "n2" { delay = "40ms" }
  link "n3" "n5" { delay = "70ms" }
  link "n5" "n3" { delay = "70ms" }
  link "n4" "n5" { delay = "70ms" }
  link "n5" "n4" { delay = "70ms" }
}
