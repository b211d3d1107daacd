"""Transport adapters. The interface they implement is owned by its user: deliver.Transport."""
