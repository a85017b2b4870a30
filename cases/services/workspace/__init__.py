"""The workspace: students' work kept in one table (work), the students-by-items
matrix under the tracker and the gradebook (matrix), and grading by people (grading)."""
