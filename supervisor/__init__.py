"""evse-supervisor: the station's supervision tree, runtime, configuration, API, client and CLI.

| subpackage | job |
|---|---|
| `tree` | the generic supervision tree for pykka actors (depends on pykka alone) |
| `station` | the running station: connectors assembled from actors and drivers, the bus |
| `config` | the YAML configuration, read and validated into typed settings |
| `api` | the ZeroMQ API server: requests, replies, publications |
| `client` | the Python client and `evsectl` |
| `cli` | the `evse-supervisor` command line |

`defaults` holds the shipped YAML (the repository's `config/` folder, installed as data).
"""

DISTRIBUTION = "evse-supervisor"
"""Marks this package as evse-supervisor's: supervisord installs a package of the same name."""
