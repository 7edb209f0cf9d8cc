"""Week and month views: per-day values of the main metrics over a date range."""
