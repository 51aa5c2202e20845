# Generalization (reporting only; never tune on it). Nine voters on
# oversubscribed virtual machines (1ms apart). Three of them share hosts
# with a batch tenant that takes the CPU in episodes of ~8s about every
# 40s: the vCPU is descheduled (steal time), so each message waits ~30ms
# (150× the 0.2ms handling cost) and the guest's idle share drops by 60
# points. The other six are quiet.
scenario "noisy-neighbours" {
  nodes     = 9
  duration  = "4m"
  heartbeat = "50ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "1ms"
    jitter = "0.5ms"
  }
  node "n2" {
    noisy_every    = "40s"
    noisy_length   = "8s"
    noisy_slowdown = 150
    noisy_busy     = 60
  }
  node "n5" {
    noisy_every    = "40s"
    noisy_length   = "8s"
    noisy_slowdown = 150
    noisy_busy     = 60
  }
  node "n8" {
    noisy_every    = "40s"
    noisy_length   = "8s"
    noisy_slowdown = 150
    noisy_busy     = 60
  }
}
