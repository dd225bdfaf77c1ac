"""Clinic owner's pages: clinic settings, locations, staff and the audit log."""
