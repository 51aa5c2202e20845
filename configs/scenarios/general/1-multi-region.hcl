# Generalization (reporting only; never tune on it). A five-voter cluster
# spread over three regions so that losing one region keeps a quorum:
# n1, n2 in us-east, n3, n4 in us-west, n5 in eu-west. Inside a region the
# members sit 0.5ms apart; between regions the one-way delays are those of
# public-cloud backbones, and asymmetric, because the two directions of a
# route take different paths (us-west→us-east 36ms, the way back 31ms;
# eu→us-west 75ms, the way back 68ms). The operator runs 100ms heartbeats,
# as etcd's tuning guide advises for round trips of this size.
scenario "multi-region-asym" {
  nodes     = 5
  duration  = "4m"
  heartbeat = "100ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "0.5ms"
    jitter = "0.2ms"
  }
  link "n1" "n3" {
    delay  = "31ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n1" "n4" {
    delay  = "31ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n2" "n3" {
    delay  = "31ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n2" "n4" {
    delay  = "31ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n3" "n1" {
    delay  = "36ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n3" "n2" {
    delay  = "36ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n4" "n1" {
    delay  = "36ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n4" "n2" {
    delay  = "36ms"
    jitter = "3ms"
    loss   = 0.001
  }
  link "n1" "n5" {
    delay  = "38ms"
    jitter = "4ms"
    loss   = 0.001
  }
  link "n2" "n5" {
    delay  = "38ms"
    jitter = "4ms"
    loss   = 0.001
  }
  link "n5" "n1" {
    delay  = "43ms"
    jitter = "4ms"
    loss   = 0.001
  }
  link "n5" "n2" {
    delay  = "43ms"
    jitter = "4ms"
    loss   = 0.001
  }
  link "n3" "n5" {
    delay  = "68ms"
    jitter = "5ms"
    loss   = 0.001
  }
  link "n4" "n5" {
    delay  = "68ms"
    jitter = "5ms"
    loss   = 0.001
  }
  link "n5" "n3" {
    delay  = "75ms"
    jitter = "5ms"
    loss   = 0.001
  }
  link "n5" "n4" {
    delay  = "75ms"
    jitter = "5ms"
    loss   = 0.001
  }
}
