# Training only: partitions and an asymmetric path on a 15ms network.
scenario "train-partitions" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  network {
    delay  = "15ms"
    jitter = "4ms"
  }
  link "n2" "n4" {
    delay = "90ms"
    loss  = 0.05
  }
  partition {
    at       = "70s"
    duration = "15s"
    isolate  = ["n1"]
  }
  partition {
    at       = "190s"
    duration = "20s"
    isolate  = ["n3", "n4"]
  }
}
