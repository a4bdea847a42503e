"""Training: losses, learning-rate schedules, optimizers and the distributed loop."""
