"""The workspace: the response tracker with its side panel and timeline (tracker), and
grading one student at a time, rubrics (grading)."""
