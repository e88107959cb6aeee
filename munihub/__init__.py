"""munihub: pull every municipal subsystem on a schedule, hold it to its agency's contract,
and merge it into one consolidated store with duplicates cut."""
__version__ = "0.1.0"
