bounds {
  election_min = "2ms"
  election_max = "400ms"
}
host {
  kind                 = "hashicorp"
  leader_lease_timeout = "500ms"
}
