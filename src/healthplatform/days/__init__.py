"""The day view: one local day's metrics, journal and plot series."""
