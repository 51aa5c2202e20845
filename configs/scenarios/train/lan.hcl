# Training only (disjoint from every evaluation suite): a LAN with a little
# more jitter than ballast's, crashes every ~40s.
scenario "train-lan" {
  nodes     = 5
  duration  = "5m"
  heartbeat = "50ms"
  crash {
    mean_interval = "40s"
    downtime      = "8s"
  }
  network {
    delay  = "1ms"
    jitter = "0.8ms"
  }
}
