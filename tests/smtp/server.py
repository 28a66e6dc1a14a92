"""A real SMTP server (aiosmtpd) on 127.0.0.1 for the e-mail tests.

Usage: server.py PORT OUTDIR. Prints READY when listening. Each accepted
message is written to OUTDIR/NNNN.eml exactly as received. A file OUTDIR/next
scripts the answer to the next message: "451 ...", "550 ..." (answered at RCPT)
or "hang" (DATA never answers in time). Recipients busy@... get 451 and
nobody@... get 550, always. Exits when stdin closes.
"""
import asyncio
import os
import sys
import threading

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, outdir):
        self.outdir = outdir
        self.count = 0

    def scripted(self):
        path = os.path.join(self.outdir, "next")
        try:
            with open(path) as f:
                answer = f.read().strip()
            os.remove(path)
            return answer
        except FileNotFoundError:
            return None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        answer = self.scripted()
        if answer == "hang":
            envelope.hang = True
        elif answer:
            return answer
        if address.startswith("busy@"):
            return "451 4.3.0 Mailbox busy, try again later"
        if address.startswith("nobody@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if getattr(envelope, "hang", False):
            await asyncio.sleep(30)
        self.count += 1
        tmp = os.path.join(self.outdir, f".{self.count:04}.tmp")
        with open(tmp, "wb") as f:
            f.write(envelope.original_content)
        os.rename(tmp, os.path.join(self.outdir, f"{self.count:04}.eml"))
        return "250 2.0.0 Message accepted"


def main():
    port, outdir = int(sys.argv[1]), sys.argv[2]
    controller = Controller(Handler(outdir), hostname="127.0.0.1", port=port)
    controller.start()
    print("READY", flush=True)
    sys.stdin.read()
    controller.stop()


if __name__ == "__main__":
    main()
