rule "not-bool" {
  when  = cluster_size + 1
  floor = "1s"
}
rule "bad-compare" {
  when  = role > 3
  floor = "1s"
}
rule "bool-floor" {
  when  = prevote
  floor = prevote && true
}
rule "two-actions" {
  when        = true
  floor       = "1s"
  no_decrease = true
}
rule "mixed" {
  when    = role == 3
  ceiling = "2s"
}
