"""The subscribers wing: which addresses may be on the list, files of them, signed links."""
