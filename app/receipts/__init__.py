"""Receipts and the patient's documents: fees, receipts, summaries, statements, verification."""
