"""Training: the shared loop (optimizer, schedule, precision, accumulation, checkpoints, run
folder, distributed set-up, stop requests) and the tasks that plug into it."""
