# A WAN / geo-distributed cluster (one-way delays of 30-150ms, jitter,
# correlated bursts). Elections are expensive across regions; detection can
# afford to be slower.
name = "wan"

bounds {
  election_min     = "500ms"  # several cross-region round trips
  election_max     = "10s"
  heartbeat_min    = "50ms"
  heartbeat_max    = "2s"
  rtt_factor       = 3        # RTT already large; 3 × p99 covers the tail
  heartbeat_factor = 4        # bursts drop consecutive heartbeats
  step_up          = 1.5      # react fast to a burst
  step_down        = 0.05     # forget slowly: bursts come back
  calm_for         = "10s"    # of calm before each shortening
  stale_after      = "10s"
}

host {
  kind                 = "hashicorp"
  leader_lease_timeout = "500ms"
}

stability {
  max_elections = 0  # on a WAN any election in the window counts as churn
}

rule "prevote-quorum" {
  when   = prevote && unreachable_voters > cluster_size / 2
  floor  = "500ms"
  reason = "pre-vote on and most voters unreachable: keep at least the minimum"
}

# During a burst the p99 RTT jumps; hold a floor well above it so the burst
# does not turn into an election.
rule "burst-floor" {
  when   = rtt_p99_ms > 2 * rtt_mean_ms
  floor  = rtt_p99_ms * 6
  reason = "RTT tail is more than twice the mean (a burst): keep at least 6 × p99 RTT"
}
