"""SenseTwin: a redundant operator console for VDG Sense control rooms."""

__version__ = "0.1.0"
