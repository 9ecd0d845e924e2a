"""Every digit domain the project knows, and the domain pairs built from them.

Only the records and the folder helpers are exported here (no torch at import); the tensors live
in ``images`` and ``pairs``, each domain's data builder in its own module (``mnist``, ``usps``, ...).
"""

from .domains import DOMAINS, PAIRS, SOURCES, Domain, PairSpec, Reference, resolve_domain, resolve_pair
from .locations import DataMissingError, cache_dir, data_dir, whole_file

__all__ = [
    "DOMAINS",
    "PAIRS",
    "DataMissingError",
    "Domain",
    "PairSpec",
    "Reference",
    "SOURCES",
    "cache_dir",
    "data_dir",
    "resolve_domain",
    "resolve_pair",
    "whole_file",
]
