# Generalization (reporting only; never tune on it). Three voters 2ms
# apart on network block storage whose fsync stalls now and then (burst
# credits exhausted, a noisy volume neighbour): every member's disk stalls
# for ~300ms about every 20s, the pattern behind etcd's "slow fdatasync"
# and "apply took too long" warnings. A stalled leader sends nothing —
# neither appends nor heartbeats — until its write returns; a stalled
# follower answers late. The operator runs etcd's default 100ms heartbeat.
scenario "slow-disk" {
  nodes     = 3
  duration  = "4m"
  heartbeat = "100ms"
  crash {
    mean_interval = "60s"
    downtime      = "10s"
  }
  network {
    delay  = "2ms"
    jitter = "0.5ms"
  }
  node "n1" {
    disk_stall_every = "20s"
    disk_stall       = "300ms"
  }
  node "n2" {
    disk_stall_every = "20s"
    disk_stall       = "300ms"
  }
  node "n3" {
    disk_stall_every = "20s"
    disk_stall       = "300ms"
  }
}
