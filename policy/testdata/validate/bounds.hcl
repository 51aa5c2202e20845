bounds {
  election_min = "2s"
  election_max = "1s"
  heartbeat_min = "500ms"
  heartbeat_max = "100ms"
  step_down = 1.5
  rtt_factor = -1
  stale_after = "soon"
}
