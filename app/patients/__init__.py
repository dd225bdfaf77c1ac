"""Patient registration, search, chart, health history and consent."""
