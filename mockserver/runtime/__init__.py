"""Runtime services over the store: the clock, rules and faults, the journal, deliveries,
rate limits and signed links, and the state that holds them for the handlers."""
