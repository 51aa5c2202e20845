package api

// ProtocolVersion names the protocol the agent and its hosts speak, as
// both say it in Hello and Welcome: the proto package's name.
const ProtocolVersion = "nsraft.v1"
