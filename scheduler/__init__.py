"""Time-driven work: the outbox dispatcher and the periodic jobs run by APScheduler."""
