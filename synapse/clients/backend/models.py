"""``from synapse.clients.backend.models import StorageCategory, StorageProvider``, where the
older package kept its enums."""

from synapse.enums import JobStatus, StorageCategory, StorageProvider

__all__ = ["JobStatus", "StorageCategory", "StorageProvider"]
