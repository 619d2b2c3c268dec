"""TLS server context shared by the simulators (faultserver.py, openstack.py, truenas.py,
extsim.py)."""
import ssl


def server_context(cert, key, client_ca=None):
    """HTTPS with CERT/KEY; with CLIENT_CA every client must present a certificate it signed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def handshake(ctx, request):
    """The server side of the TLS handshake on an accepted REQUEST, in the connection's own
    thread (not the accept loop); None when the client was refused or went away."""
    request.settimeout(10)
    try:
        request = ctx.wrap_socket(request, server_side=True)
    except (ssl.SSLError, OSError):
        try:
            request.close()
        except OSError:
            pass
        return None
    request.settimeout(None)
    return request


class HandshakeInThread:
    """Mixin for a socketserver server: with `tls` set (an SSLContext) every accepted
    connection does its TLS handshake in its own thread before it is handled."""
    tls = None

    def finish_request(self, request, client_address):
        if self.tls is not None:
            request = handshake(self.tls, request)
            if request is None:
                return
        super().finish_request(request, client_address)
