"""What to send: choose a digest's articles, render it once, build each recipient's message.

`select` picks the articles, `render` turns them into HTML (CSS inlined once) and
text with recipient placeholders, and `message` splices each recipient's values
into pre-encoded MIME bytes. Nothing here touches the store or the network.
"""
