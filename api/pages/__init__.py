"""The service's HTML pages (tracking for customers, the live day for planners), as
templates read from package data."""
