"""Edges that produce beats: recordings on disk, the Bluetooth strap, the simulator."""
