# BALLAST rows "Long-tail delay" and "Packet loss" on a WAN: 2% of messages
# take an extra 200ms on average (retransmits, queueing) and 3% are lost.
scenario "wan-lossy" {
  nodes     = 5
  duration  = "10m"
  heartbeat = "50ms"
  prevote   = true
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay      = "40ms"
    jitter     = "10ms"
    tail_prob  = 0.02
    tail_delay = "200ms"
    loss       = 0.03
  }
}
