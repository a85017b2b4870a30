"""Quizzes: taking one (taking), and the question bank, settings, statistics and
grading for the course's staff (staff)."""
