"""Replays of recorded events through the Evaluator: ordering, comparison, summaries and reports."""
