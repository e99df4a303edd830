from tests.server.conftest import make_server, server, store

__all__ = ["make_server", "server", "store"]
