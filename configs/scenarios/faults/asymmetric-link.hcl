# One direction of one path is slow and lossy (a bad NIC queue, asymmetric
# routing): n1→n2 takes 150ms and loses 10%, n2→n1 is fine.
scenario "asymmetric-link" {
  nodes     = 3
  duration  = "5m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "2ms"
    jitter = "1ms"
  }
  link "n1" "n2" {
    delay = "150ms"
    loss  = 0.1
  }
}
