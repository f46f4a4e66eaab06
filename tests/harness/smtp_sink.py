"""A real SMTP server for the email tests: Debian's python3-aiosmtpd.

Usage: smtp_sink.py DIR PORT   (PORT 0 picks a free one)

Prints "listening PORT" once it accepts connections. Every message it
accepts is written to DIR as one JSON file (written whole, then renamed):
  {"mail_from": ..., "rcpt_tos": [...], "raw_headers": "...",
   "headers": [[name, decoded value], ...], "text": decoded body}
so a test can check the envelope, the raw header lines (header injection)
and the decoded text (links) without a MIME parser of its own.
"""
import asyncio
import email
import email.policy
import json
import os
import socket
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        if isinstance(raw, str):
            raw = raw.encode("utf-8")
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "raw_headers": raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace"),
            "headers": [[k, str(v)] for k, v in msg.items()],
            "text": msg.get_content() if not msg.is_multipart() else "",
        }
        self.count += 1
        name = "%d-%06d.json" % (os.getpid(), self.count)
        tmp = os.path.join(self.directory, "." + name)
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(record, f)
        os.rename(tmp, os.path.join(self.directory, name))
        return "250 OK queued"


def main():
    directory, port = sys.argv[1], int(sys.argv[2])
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    handler = Sink(directory)
    server = loop.run_until_complete(
        loop.create_server(lambda: SMTP(handler, enable_SMTPUTF8=True, loop=loop), sock=sock))
    print("listening %d" % sock.getsockname()[1], flush=True)
    try:
        loop.run_forever()
    finally:
        server.close()


if __name__ == "__main__":
    main()
