"""Demand forecasting plugin: models, per-series selection, accuracy tracking."""
