"""The mail wing: header fields encoded by hand, the confirmation message, IMAP URLs."""


def is_imap_url(text: str) -> bool:
    """Whether a mailbox is an IMAP URL (the IMAP client is imported only to read one)."""
    return text.lower().startswith(("imap://", "imaps://"))
