host {
  kind = "zookeeper"
}
rule "dup" {
  when = true
  hold = true
}
rule "dup" {
  when = true
  hold = true
}
