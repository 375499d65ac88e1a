"""kindpulse: notice sustained stress from heartbeats and offer a self-compassion break.

The ``kindpulse`` package itself is the pure core (no clock, no IO, no asyncio).
``kindpulse.sensors``, ``kindpulse.daemon`` and ``kindpulse.config`` are the edges.
"""

__version__ = "0.1.0"
