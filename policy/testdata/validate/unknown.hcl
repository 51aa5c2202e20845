bounds {
  election_min = "150ms"
  colour       = "blue"
}
limits {
  x = 1
}
rule "r" {
  when  = unreachable_votes > 2
  floor = "1s"
  color = 3
}
