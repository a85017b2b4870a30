"""The demo course: its cases, quizzes and threads as files, and the seeders that load
them (`seed_demo`) and a class at size (`seed_load`)."""
