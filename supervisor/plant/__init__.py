"""The simulated plant: boards, meters and cars in a process of their own (spec/durability.md).

`launch` finds or starts a state dir's plant (what a station needs), `process` is the
`evse-supervisor plant` command, `server` its sockets, `plant` its hardware and
`registers` the meters' persisted registers.
"""
