"""Returned mail written by hand, following RFC 3464 (DSN), RFC 5965 (ARF) and the shapes that
Postfix, Exim, Gmail and Outlook produce, for tests and the bounce benchmark."""

from __future__ import annotations

from email.utils import format_datetime

from tests.conftest import NOW

DATE = format_datetime(NOW)


def _headers_of(original_to: str, message_id: str, return_path: str) -> str:
    return (f"Return-Path: <{return_path}>\r\nFrom: Test Gazette <digest@news.example.org>\r\n"
            f"To: {original_to}\r\nSubject: Test Gazette: the digest\r\n"
            f"Message-ID: <{message_id}>\r\nDate: {DATE}\r\n")


def postfix_dsn(to: str, recipient: str, message_id: str, status: str = "5.1.1",
                diagnostic: str = "550 5.1.1 <{r}>: Recipient address rejected: User unknown",
                action: str = "failed") -> bytes:
    """Postfix's bounce: a notification, a delivery-status part, the returned headers."""
    said = diagnostic.format(r=recipient)
    return (
        f"Return-Path: <>\r\nDelivered-To: {to}\r\nFrom: MAILER-DAEMON@mx.example.net "
        f"(Mail Delivery System)\r\nTo: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {DATE}\r\nMessage-ID: <20261125.A1@mx.example.net>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        "\tboundary=\"B1.1764072000/mx.example.net\"\r\n\r\n"
        "This is a MIME-encapsulated message.\r\n\r\n"
        "--B1.1764072000/mx.example.net\r\nContent-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mx.example.net.\r\n\r\n"
        f"<{recipient}>: host mx.example.net said: {said}\r\n\r\n"
        "--B1.1764072000/mx.example.net\r\nContent-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.net\r\nX-Postfix-Queue-ID: 4XyZ\r\n"
        f"Arrival-Date: {DATE}\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nOriginal-Recipient: rfc822;{recipient}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\nRemote-MTA: dns; mx.example.net\r\n"
        f"Diagnostic-Code: smtp; {said}\r\n\r\n"
        "--B1.1764072000/mx.example.net\r\nContent-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        + _headers_of(recipient, message_id, to) +
        "\r\n--B1.1764072000/mx.example.net--\r\n").encode()


def exim_bounce(to: str, recipient: str, message_id: str) -> bytes:
    """Exim's plain-text bounce with X-Failed-Recipients, and the message quoted after it."""
    return (
        f"Return-path: <>\r\nEnvelope-to: {to}\r\nFrom: Mail Delivery System "
        f"<Mailer-Daemon@mail.example.com>\r\nTo: {to}\r\nX-Failed-Recipients: {recipient}\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n"
        f"Date: {DATE}\r\nMessage-Id: <E1tXyZ@mail.example.com>\r\n\r\n"
        "This message was created automatically by mail delivery software.\r\n\r\n"
        "A message that you sent could not be delivered to one or more of its\r\n"
        "recipients. This is a permanent error. The following address(es) failed:\r\n\r\n"
        f"  {recipient}\r\n    retry timeout exceeded\r\n\r\n"
        "------ This is a copy of the message, including all the headers. ------\r\n\r\n"
        + _headers_of(recipient, message_id, to) + "\r\nThe digest.\r\n").encode()


def gmail_dsn(to: str, recipient: str, message_id: str) -> bytes:
    """Gmail's DSN: 550-5.1.1 folded into one diagnostic, the whole message returned."""
    return (
        f"Delivered-To: {to}\r\nReturn-Path: <>\r\nFrom: Mail Delivery Subsystem "
        f"<mailer-daemon@googlemail.com>\r\nTo: {to}\r\nSubject: Delivery Status Notification "
        f"(Failure)\r\nDate: {DATE}\r\nMessage-ID: <g1@mx.google.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; boundary=\"00g\"; report-type=delivery-status\r\n\r\n"
        "--00g\r\nContent-Type: text/plain; charset=\"UTF-8\"\r\n\r\n"
        "** Address not found **\r\n\r\n--00g\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n\r\n"
        f"Final-Recipient: rfc822; {recipient}\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550-5.1.1 The email account that you tried to reach does\r\n"
        " not exist. 550 5.1.1 https://support.google.com/mail/?p=NoSuchUser - gsmtp\r\n\r\n"
        "--00g\r\nContent-Type: message/rfc822\r\n\r\n"
        + _headers_of(recipient, message_id, to) + "\r\nThe digest.\r\n\r\n--00g--\r\n").encode()


def outlook_ndr(to: str, recipient: str, message_id: str) -> bytes:
    """Outlook's non-delivery report for a policy refusal: the sender's problem, not the
    reader's."""
    return postfix_dsn(to, recipient, message_id, "5.7.1",
                       "550 5.7.1 Unfortunately, messages from [192.0.2.1] weren't sent. "
                       "Please contact your Internet service provider (S3150)")


def arf_complaint(to: str, recipient: str, message_id: str) -> bytes:
    """A feedback-loop complaint (RFC 5965), as Yahoo and Outlook send them."""
    return (
        f"To: {to}\r\nFrom: feedback@fbl.example.net\r\nSubject: FW: the digest\r\n"
        f"Date: {DATE}\r\nMessage-ID: <fbl1@fbl.example.net>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=feedback-report;\r\n"
        "\tboundary=\"arf\"\r\n\r\n--arf\r\nContent-Type: text/plain; charset=\"US-ASCII\"\r\n\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1\r\n\r\n"
        "--arf\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
        f"Original-Mail-From: <{to}>\r\nOriginal-Rcpt-To: <{recipient}>\r\n"
        f"Arrival-Date: {DATE}\r\nSource-IP: 192.0.2.1\r\n\r\n"
        "--arf\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        + _headers_of(recipient, message_id, to) + "\r\n--arf--\r\n").encode()


def unsubscribe_request(to: str, sender: str, subject: str) -> bytes:
    """What a mail client sends to a List-Unsubscribe mailto: address."""
    return (f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nDate: {DATE}\r\n"
            "Message-ID: <u1@mail.example.org>\r\n\r\nThis message was sent to unsubscribe.\r\n"
            ).encode()
