# Generalization (reporting only; never tune on it). A three-node cluster
# in one rack (0.2ms apart) whose members run inside a garbage-collected
# runtime with a large heap: n2 stops the world for ~120ms every ~6s
# (young-generation collections), n3 for ~1.5s about twice a minute (full
# collections after its cache filled). While paused a member answers
# nothing, probes included, so its round trips look seconds long.
scenario "lan-gc-pauses" {
  nodes     = 3
  duration  = "4m"
  heartbeat = "50ms"
  crash {
    mean_interval = "50s"
    downtime      = "10s"
  }
  network {
    delay  = "0.2ms"
    jitter = "0.1ms"
  }
  node "n2" {
    pause_every = "6s"
    pause       = "120ms"
  }
  node "n3" {
    pause_every = "30s"
    pause       = "1500ms"
  }
}
