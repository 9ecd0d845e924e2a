"""Training: the loop as a generator of progress events, evaluation, runs."""
