"""The grading API: score one household now, start and follow batch scoring jobs."""
