# The default policy: used when an agent is given none. Written for a
# hashicorp/raft (or Consul) cluster on a LAN or metro network; every value
# says why it is what it is. Check a copy with `ns-agent validate FILE`.
name = "default"

bounds {
  # Never below 100ms: two heartbeat intervals of the Raft paper's 50ms,
  # and twice what a GC pause or a slow fsync on a healthy node takes. The
  # paper's 150ms was the first choice; with pre-vote a follower that times
  # out alone is refused and starts no election, and in the simulator's
  # stable LAN 150ms detected crashes no faster than the paper's own
  # randomized timers (bench, seeds 2000-2009).
  election_min = "100ms"
  # Never above 5s: past that a dead leader costs more than any needless
  # election would.
  election_max = "5s"

  heartbeat_min = "10ms"
  heartbeat_max = "1s"

  # A timeout shorter than a round trip cannot tell a slow leader from a
  # dead one: at least the p99 heartbeat RTT of the last 2s, which is twice
  # the p99 one-way delay a heartbeat needs. 2 and 4 were tried: under WAN
  # tail delay they held timeouts at 0.5-4s and made crash detection 2-3x
  # slower in the simulator, for few elections avoided (pre-vote already
  # absorbs a single late heartbeat) ...
  rtt_factor = 1
  # ... and at least 2 heartbeat intervals, so one lost heartbeat never
  # starts an election.
  heartbeat_factor = 2

  # Lengthen fast (the value may double in one decision: needless elections
  # hurt now), shorten by at most half per decision and only after 0.5s of
  # calm since the last change (time, not samples: a flood of samples
  # cannot rush it): from hashicorp/raft's 1s a node reaches 125ms in
  # 1.5s.
  step_up    = 1.0
  step_down  = 0.5
  calm_for   = "500ms"

  # Telemetry older than 5s is not acted on: the last safe value holds.
  stale_after = "5s"
}

host {
  kind = "hashicorp"
  # hashicorp/raft's LeaderLeaseTimeout is not reloadable and
  # HeartbeatTimeout may not go below it. The adapter reports each node's
  # own lease in every sample and the policy floors at it, so nothing is
  # set here; set leader_lease_timeout to floor at a fixed value as well.
}

stability {
  # More than one election in the collector's window is term churn: the
  # risk cap then forbids any decrease.
  max_elections = 1
}

# Reference 000's quorum rule: with pre-vote on and most voters unreachable
# this node cannot win an election anyway, so shortening its timeout only
# adds pre-vote traffic. Keep at least election_min.
rule "prevote-quorum" {
  when   = prevote && unreachable_voters > cluster_size / 2
  floor  = "150ms"
  reason = "pre-vote is on and more than half the voters are unreachable: an election cannot succeed, keep at least 150ms"
}

# A node whose disk cannot keep up is itself the likely cause of missed
# heartbeats; do not shorten its timeout while fsync is slow.
rule "slow-disk" {
  when        = disk_sync_p99_ms > 100
  no_decrease = true
  reason      = "disk sync p99 above 100ms: missed heartbeats are likely local stalls, do not shorten"
}
