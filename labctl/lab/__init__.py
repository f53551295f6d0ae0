"""The embedded lab: the whole platform as supervised processes on loopback (``labctl lab``)."""
