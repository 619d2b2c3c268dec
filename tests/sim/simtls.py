"""TLS server context shared by the simulators (faultserver.py, openstack.py)."""
import ssl


def server_context(cert, key, client_ca=None):
    """HTTPS with CERT/KEY; with CLIENT_CA every client must present a certificate it signed."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    if client_ca:
        ctx.load_verify_locations(client_ca)
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx
