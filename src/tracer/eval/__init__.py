"""`tracer eval`: a seeded, labelled corpus of realistic series and the detector's score on it."""
