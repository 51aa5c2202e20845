# BALLAST row "Partition recovery": a LAN cluster where the node most likely
# to lead (n1, first to start) is cut off twice, and a minority pair once.
scenario "partition-recovery" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  network {
    delay  = "1ms"
    jitter = "0.5ms"
  }
  partition {
    at       = "60s"
    duration = "20s"
    isolate  = ["n1"]
  }
  partition {
    at       = "150s"
    duration = "30s"
    isolate  = ["n2", "n3"]
  }
  partition {
    at       = "240s"
    duration = "15s"
    isolate  = ["n1"]
  }
}
