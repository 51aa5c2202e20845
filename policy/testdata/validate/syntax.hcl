bounds {
  election_min = "150ms"
  election_max =
}
