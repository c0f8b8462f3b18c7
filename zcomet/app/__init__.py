"""The faces: the ``zcomet`` command and the listener daemon.

These modules sit on top of the socket roles in :mod:`zcomet.net`; none of
them opens a socket itself.
"""
