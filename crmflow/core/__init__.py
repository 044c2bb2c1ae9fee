"""The core: engine, plugin registry, domain records and the store."""
