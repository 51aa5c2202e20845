# etcd-style timing, following etcd's tuning guide: the heartbeat interval
# is about one round trip, the election timeout about 10 heartbeats (and at
# least 5). For etcd servers the agent's output is advisory: the values to
# pass as --heartbeat-interval and --election-timeout.
name = "etcd"

bounds {
  election_min     = "500ms"  # etcd's own minimum sensible setting on real disks
  election_max     = "50s"    # etcd's hard upper limit
  heartbeat_min    = "10ms"
  heartbeat_max    = "5s"
  rtt_factor       = 10       # election ≈ 10 × RTT
  heartbeat_factor = 10       # election ≈ 10 × heartbeat
  step_up          = 1.0
  step_down        = 0.1
  calm_for         = "5s"     # of calm before each shortening
  stale_after      = "10s"
}

host {
  kind = "etcd"
}

# etcd's WAL fsync stalls are the classic cause of needless elections.
rule "slow-wal" {
  when        = disk_sync_p99_ms > 50
  no_decrease = true
  reason      = "WAL fsync p99 above 50ms: do not shorten while the disk is slow"
}
