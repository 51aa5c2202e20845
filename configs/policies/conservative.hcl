# A conservative policy: the agent may only lengthen the timeout, never
# shorten it below what is in force. Use it to roll the agent out: it can
# only remove needless elections, never make failure detection faster.
name = "conservative"

bounds {
  election_min = "1s"    # hashicorp/raft's default HeartbeatTimeout
  election_max = "10s"
  step_up      = 0.5
  step_down    = 0.0     # with no_decrease below, a belt and braces
  calm_for     = "100s"
  # Wider margins than the default's: a rollout policy errs towards never
  # shortening below a few round trips or heartbeats.
  rtt_factor       = 4
  heartbeat_factor = 3
  successor_factor = 0   # no node runs below the value the others get
}

host {
  kind                 = "hashicorp"
  leader_lease_timeout = "500ms"
}

rule "only-lengthen" {
  when        = true
  no_decrease = true
  reason      = "conservative policy: the timeout only ever lengthens"
}
