"""frameclient.py - the weft frame protocol in a few lines of Python, for
the integration tests that talk to weftd directly (test_weftd.sh,
test_weftd_auth.sh): a 4-byte little-endian header length, a JSON header,
then file_size body bytes (docs/PROTOCOL.md)."""
import json
import struct


def frame(hdr, body=b''):
    """The bytes of one frame; file_size is set from body."""
    if body:
        hdr = dict(hdr, file_size=len(body))
    h = json.dumps(hdr).encode()
    return struct.pack('<I', len(h)) + h + body


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        c = s.recv(min(n - len(buf), 1 << 20))
        if not c:
            raise EOFError('closed after %d of %d bytes' % (len(buf), n))
        buf += c
    return bytes(buf)


def recv_frame(s):
    """One frame: (header dict, body bytes)."""
    n = struct.unpack('<I', recv_exact(s, 4))[0]
    h = json.loads(recv_exact(s, n))
    size = h.get('file_size', 0)
    return h, (recv_exact(s, size) if size else b'')


def closed(s):
    """True if the server closed the connection (end of file)."""
    try:
        s.settimeout(5)
        return s.recv(1) == b''
    except (ConnectionResetError, BrokenPipeError):
        return True
