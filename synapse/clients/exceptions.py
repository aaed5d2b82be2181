"""``from synapse.clients.exceptions import ClientError``, as in the older package."""

from synapse.errors import *  # noqa: F403 - the same names, from their one home
from synapse.errors import __all__ as __all__
