"""Business rules. Each function takes the session and an explicit actor, flushes, never commits."""
