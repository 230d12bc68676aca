"""seqdiag: why a sequence model that trains fine still generates the wrong thing."""

__version__ = "0.1.0"
