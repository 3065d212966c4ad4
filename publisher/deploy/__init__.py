"""The deploy wing: the output folder uploaded to S3-compatible object storage.

`plan` decides, from the local files, the bucket's listing and the manifest of
what an earlier deploy uploaded, which objects to upload (pages and assets
first, then the feeds that link to them) and which to remove (only objects an
earlier deploy uploaded and the site no longer has: others in the bucket are
left alone). `s3` holds boto3 and its quirks, and `upload.deploy` runs the
steps in order.
"""
