"""Owner oversight: the compliance dashboard (B7, R5), the RMT billing report, retention (R4)."""
