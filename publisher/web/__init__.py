"""The web wing: the ASGI service `publisher serve` runs (`app.create_app`).

`static` serves the published folder, `forms` holds the rules of subscribe,
confirm and unsubscribe, `pages` the service's own pages and security headers.
"""
