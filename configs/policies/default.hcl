# The default policy: used when an agent is given none. Written for a
# hashicorp/raft (or Consul) cluster on a LAN or metro network; every value
# says why it is what it is. Check a copy with `ns-agent validate FILE`.
name = "default"

bounds {
  # Never below the Raft paper's 150ms: below that, a GC pause or a slow
  # fsync on any healthy node is already an election.
  election_min = "150ms"
  # Never above 5s: past that a dead leader costs more than any needless
  # election would.
  election_max = "5s"

  heartbeat_min = "10ms"
  heartbeat_max = "1s"

  # A timeout shorter than a few round trips cannot tell a slow leader from
  # a dead one: at least 2 × the p99 heartbeat RTT (4 × the p99 one-way
  # delay). 4 was tried: under WAN tail delay it held timeouts at 1–4s and
  # made crash detection 3× slower in the simulator (bench -policy) ...
  rtt_factor = 2
  # ... and at least 3 heartbeat intervals, so one lost heartbeat never
  # starts an election.
  heartbeat_factor = 3

  # Lengthen fast (the value may double in one decision: needless elections
  # hurt now), shorten more slowly (25% per decision) and only after 10
  # calm samples (1s at the default 100ms tick).
  step_up    = 1.0
  step_down  = 0.25
  hysteresis = 10

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
