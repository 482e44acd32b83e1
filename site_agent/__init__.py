"""The fedhub site agent: runs at a plant or lab, keeps raw data local, talks to the hub."""

__version__ = "0.1.0"
