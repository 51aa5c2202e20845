# The environment `ns-agent demo` injects into the local reference cluster
# through toxiproxy and process signals. Kept short so a demo run shows every
# kind of fault within a minute; timing is compressed accordingly.
scenario "demo" {
  nodes     = 5
  duration  = "60s"
  heartbeat = "100ms"   # hashicorp/raft: the leader heartbeats every HeartbeatTimeout/10
  prevote   = true

  crash {               # the leader is SIGKILLed, restarted after downtime
    mean_interval = "25s"
    downtime      = "5s"
  }

  network {
    delay  = "5ms"      # a LAN with some jitter
    jitter = "3ms"
    burst {             # a correlated slow-down of every link
      mean_interval = "20s"
      mean_length   = "2s"
      extra_delay   = "150ms"
    }
  }

  link "n1" "n2" { delay = "30ms" }   # one slow path

  node "n4" {           # a follower with stop-the-world pauses (GC, fsync)
    pause_every = "15s"
    pause       = "700ms"
  }

  partition {
    at       = "40s"
    duration = "6s"
    isolate  = ["n5"]
  }
}
