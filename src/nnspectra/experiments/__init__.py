"""Experiment runners: one module per experiment, called by the workflow scripts."""
