"""Projections of feature clouds and the figures the app and the README show."""
