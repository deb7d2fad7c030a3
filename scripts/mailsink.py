"""mailsink.py: the local SMTP server of the dev and test stacks (scripts/stack.sh), an aiosmtpd handler.

Stores every message it accepts in a Maildir (the handler's argument: new messages land in DIR/new/), so that a
developer reads the booking mails of `make run` there and the integration tests check what the worker sent.
A recipient whose local part starts with `reject` is refused with a permanent 550, so that the tests can see how the
dispatcher handles a mail refused for good.

Run: PYTHONPATH=scripts /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:PORT -c mailsink.Sink MAILDIR
"""

import os

from aiosmtpd.handlers import Mailbox


class Sink(Mailbox):
    def __init__(self, mail_dir):
        # mailbox.Maildir creates its tmp/new/cur folders only when the Maildir itself does not exist yet.
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(mail_dir, sub), exist_ok=True)
        super().__init__(mail_dir)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.split("@", 1)[0].lower().startswith("reject"):
            return "550 5.1.1 mailbox unavailable (mailsink rejects reject* recipients)"
        envelope.rcpt_tos.append(address)
        return "250 OK"
