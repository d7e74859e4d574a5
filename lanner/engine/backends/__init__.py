"""Backends run a plan's filters over stored events and hand candidates to the matcher."""
