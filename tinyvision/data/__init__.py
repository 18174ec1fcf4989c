"""Data sets tinyvision makes itself (no downloads)."""
from .toy import spirals

__all__ = ["spirals"]
