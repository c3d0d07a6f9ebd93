"""The lab: every part of SenseTwin its own host on a virtual LAN of Linux network namespaces (issue 12 §2).

`net` builds the LAN and makes its faults, `system` starts the SenseTwin processes on it, `scenarios` runs
scripted fault scenarios with the chaos checker, `python -m tests.lab` is the entry point.
"""
