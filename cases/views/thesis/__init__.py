"""The thesis tools: stance checks, decision points, pairs and calibration (stances), and
the spectrum exercise (spectrum)."""
