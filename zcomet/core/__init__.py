"""The pure core: definitions, catalog, codec and channel matching. No sockets."""
