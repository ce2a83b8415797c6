"""Fault-injection tools for tests (a cuttable TCP proxy, …)."""
