"""The mail wing: header fields encoded by hand, and the confirmation message."""
