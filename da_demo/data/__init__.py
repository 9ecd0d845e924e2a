"""Every digit domain the project knows, and the domain pairs built from them."""

from .images import LabeledImages, UnlabeledImages, fingerprint
from .locations import DataMissingError, cache_dir, data_dir
from .pairs import DOMAINS, PAIRS, DomainPair, PairSpec, load_domain, load_pair, resolve_pair

__all__ = [
    "DOMAINS", "PAIRS", "DataMissingError", "DomainPair", "LabeledImages", "PairSpec", "UnlabeledImages",
    "cache_dir", "data_dir", "fingerprint", "load_domain", "load_pair", "resolve_pair",
]
