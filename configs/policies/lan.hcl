# A LAN cluster (RTT well under 1ms): fast failure detection is affordable,
# so the bounds are tight around the Raft paper's range.
name = "lan"

bounds {
  election_min     = "100ms"  # LAN RTT is tiny; GC pauses are the real floor
  election_max     = "2s"     # a LAN should never need more than this
  heartbeat_min    = "5ms"
  heartbeat_max    = "200ms"
  rtt_factor       = 8        # RTTs are tiny, so be generous relative to them
  heartbeat_factor = 3
  step_up          = 1.0
  step_down        = 0.2
  calm_for         = "2s"     # of calm before each shortening
  stale_after      = "2s"
}

host {
  kind                 = "hashicorp"
  leader_lease_timeout = "100ms"  # the lease must stay below the shortest timeout
}

rule "prevote-quorum" {
  when   = prevote && unreachable_voters > cluster_size / 2
  floor  = "100ms"
  reason = "pre-vote on and most voters unreachable: keep at least the minimum"
}

# A follower starved of CPU misses heartbeats because it is slow, not because
# the leader is gone.
rule "cpu-starved" {
  when        = cpu_idle_pct < 5
  no_decrease = true
  reason      = "CPU idle below 5%: heartbeat gaps are likely local scheduling delays"
}
