"""The daemon side: command line, run loop, store, notifier, service manager link."""
