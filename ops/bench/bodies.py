"""The worst case of unauthenticated large bodies: as many connections as
riposte serves at once, each holding a body just under the server-wide cap,
never finished. Prints one JSON line: the mode, connections, bytes held and
riposte's peak RSS (VmHWM) before and after.

  bodies.py PORT PID CONNECTIONS BODY_BYTES MODE
  MODE: length (Content-Length, body sent but its last byte) |
        chunked (64 KiB chunks, no last chunk) | tiny (1-byte chunks)
"""
import json
import socket
import sys
import time


def vm(pid, key):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def main():
    port, pid, conns, size, mode = (int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                                     int(sys.argv[4]), sys.argv[5])
    before = vm(pid, "VmRSS")
    socks = []
    sent = 0
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        if mode == "length":
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size)
            block = b"x" * (1 << 20)
            left = size - 1
            while left > 0:
                n = min(left, len(block))
                s.sendall(block[:n])
                left -= n
        elif mode == "chunked":
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            chunk = b"%x\r\n" % 65536 + b"x" * 65536 + b"\r\n"
            for _ in range((size - 1) // 65536):
                s.sendall(chunk)
        else:  # tiny
            s.sendall(b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            block = b"1\r\nx\r\n" * 65536
            for _ in range((size - 1) // 65536):
                s.sendall(block)
        sent += size - 1
        socks.append(s)
    time.sleep(1.0)  # the io threads read what is in flight
    held = vm(pid, "VmRSS")
    peak = vm(pid, "VmHWM")
    for s in socks:
        s.close()
    time.sleep(1.0)
    print(json.dumps({"mode": mode, "connections": conns, "body_bytes": size,
                      "bytes_sent": sent, "rss_before": before, "rss_held": held,
                      "peak_rss": peak, "rss_after": vm(pid, "VmRSS")}))


main()
