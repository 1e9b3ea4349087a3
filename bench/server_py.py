"""server_py.py - Python's contenders in bench_server: an echo server on
socketserver's ThreadingTCPServer or ForkingTCPServer.

    python3 server_py.py --mode threading|forking --listen HOST:PORT

Prints "listening on HOST:PORT" (the port the kernel chose, after port 0)
and serves until SIGTERM or SIGINT. The handler echoes whatever it
receives until the client closes - the same work as echo_epoll and weft's
echo_server (the load generator's payload is upper-case letters and
digits, so a plain echo and the course's upper-case echo answer alike).

Settings, as the issue asks and like for like with weft:
  request_queue_size = 128   the listen backlog (socketserver's default
                             is 5)
  allow_reuse_address        as weft sets SO_REUSEADDR
  daemon_threads,            threads and children do not hold up the
  block_on_close = False     exit (a stopped benchmark leaves none behind:
                             it stops the whole process group)
  max_children = 1024        forking: socketserver's default of 40 would
                             block the server in waitpid() with 40
                             connections live and leave the rest in the
                             backlog; weft's fork model allows 1024
                             (max_conns) by default, so this one does too

On SIGTERM the server stops accepting and exits; in the forking mode the
children serving connections get SIGTERM too (the benchmark stops the whole
process group).
"""
import argparse
import signal
import socket
import socketserver
import sys


class Echo(socketserver.BaseRequestHandler):
    def handle(self):
        sock = self.request
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                sock.sendall(data)
        except (ConnectionResetError, BrokenPipeError):
            pass


class Threading(socketserver.ThreadingTCPServer):
    request_queue_size = 128
    allow_reuse_address = True
    daemon_threads = True
    block_on_close = False


class Forking(socketserver.ForkingTCPServer):
    request_queue_size = 128
    allow_reuse_address = True
    max_children = 1024
    block_on_close = False


def parse_listen(text):
    host, sep, port = text.rpartition(":")
    if not sep:
        sys.exit("server_py.py: --listen HOST:PORT")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", choices=("threading", "forking"),
                    required=True)
    ap.add_argument("--listen", default="127.0.0.1:0")
    args = ap.parse_args()
    host, port = parse_listen(args.listen)
    cls = Threading if args.mode == "threading" else Forking
    if ":" in host:
        cls.address_family = socket.AF_INET6
    server = cls((host, port), Echo)
    shost, sport = server.server_address[:2]
    if ":" in shost:
        shost = "[%s]" % shost
    print("listening on %s:%d" % (shost, sport), flush=True)

    def stop(signo, frame):
        # shutdown() waits for serve_forever, which runs in this very
        # thread: leave by an exception instead.
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    server.server_close()


if __name__ == "__main__":
    main()
