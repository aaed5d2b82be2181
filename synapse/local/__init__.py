"""A local Synapse backend: the v1 protocol over real HTTP, with SQLite.

For the quickstart, for integration tests, and for testing pipelines offline:

```python
from synapse.local import LocalBackend

with LocalBackend(seed="demo") as backend:
    ...  # point a client at backend.url with backend.token
```

Needs the ``local`` extra (``pip install 'synapse-orm[local]'``). It shares only the
wire protocol (``synapse.protocol``) with the client side of the package and never
imports the client.
"""

from synapse.local.clock import ManualClock
from synapse.local.server import LocalBackend

__all__ = ["LocalBackend", "ManualClock"]
