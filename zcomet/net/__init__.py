"""Socket roles: sender, listener, forwarder, security. Only this layer touches zmq."""
