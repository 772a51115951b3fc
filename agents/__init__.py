"""Agents that ascend expected-return objectives with :class:`ascentrl.Ascent`."""
