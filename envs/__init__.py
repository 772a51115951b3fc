"""Environments for ascentrl: Gymnasium helpers, matrix games and PettingZoo adapters."""
