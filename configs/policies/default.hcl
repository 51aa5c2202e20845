# The default policy: used when an agent is given none. Written for a
# hashicorp/raft (or Consul) cluster on a LAN or metro network; every value
# says why it is what it is. Check a copy with `ns-agent validate FILE`.
name = "default"

bounds {
  # Never below 50ms, the Raft paper's heartbeat interval: the heartbeat
  # floor below is what normally binds. 100ms held stable-LAN timeouts at
  # 102ms where the best fixed timeout in hindsight is 50ms, doubling crash
  # detection there (bench, tuning seeds 2000-2002: 3.7s of unavailability
  # against 2.0s at 50ms).
  election_min = "50ms"
  # Never above 5s: past that a dead leader costs more than any needless
  # election would.
  election_max = "5s"

  heartbeat_min = "10ms"
  heartbeat_max = "1s"

  # An election takes round trips: the pre-vote, the vote, the new
  # leader's first append. A timeout that cannot hold two of them makes
  # candidates time out before they can win, so the timeout is at least
  # twice the mean RTT of the last 2s. The mean, not the p99: on a WAN with
  # a thin tail one late probe among a follower's twenty made the p99 floor
  # jump to 260ms for 2s, and the risk cap then kept it there. Tuning suite
  # (configs/scenarios/tune plus a bursty pre-vote WAN), seeds 2000-2002,
  # lstm: 55.7s of unavailability with the p99 floor, 50.7s with this one
  # and half the p99 below. 1.5 and 2.5 mean RTTs: 51.3s and 61.3s.
  election_rtts = 2
  # ... and at least half the p99 RTT: a network whose tail is a large
  # share of its round trips still holds a vote's worth.
  rtt_factor = 0.5
  # ... and at least 1.1 heartbeat intervals: a follower's timer runs in
  # [T, 2T) from its last contact, so at T = 1.1 intervals no timer fires
  # before the next heartbeat is due, and one late heartbeat makes at most
  # a lone pre-vote, which the others refuse. 2 intervals cost the stable
  # LAN 1.7s of 3.7s on tuning seeds 2000-2002.
  heartbeat_factor = 1.1

  # The leader's successor (the next voter after it in ID order) times out
  # at half the value the others get, never below the floors above. Only
  # where pre-vote is on and the host's voters ignore a candidate until
  # their own timeout runs out (etcd, go.etcd.io/raft, the Raft thesis's
  # rule; not hashicorp/raft, whose voters refuse for as long as they know
  # a leader): an early timer then costs one refused pre-vote, and after a
  # leader failure the successor is usually the only candidate instead of
  # one of several that split the vote. Tuning suite, seeds 2000-2009,
  # lstm: 137.0s of unavailability without it, 117.4s at 0.5, 118.2s at
  # 0.3, 138.8s at 0.7; every other strategy through the policy gained
  # too (phi 153.0s to 141.6s).
  successor_factor = 0.5

  # Lengthen fast (the value may double in one decision: needless
  # elections hurt now) and shorten as fast as the forecast says once a
  # tick of calm (100ms, measured in time, not samples: a flood of samples
  # cannot rush it) has passed since the last unstable sample or the last
  # decrease; the risk cap below still forbids any decrease while
  # elections fail or repeat. A slow descent (at most half per decision,
  # after 5 calm samples) kept burst-raised timeouts for seconds after the
  # burst: on the bursty WAN, tuning seeds 2000-2002, 39.6s of
  # unavailability against 29.9s; over the ballast suite 102.3s against
  # 91.4s. From hashicorp/raft's 1s a node may reach 100ms in one
  # decision, 100ms after its first calm sample.
  step_up    = 1.0
  step_down  = 0.9
  calm_for   = "100ms"

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
