"""Domain Adaptation Playground: unsupervised domain adaptation on digits, compared and explained."""

__version__ = "0.1.0"
