"""Mail fixtures: a real SMTP server (aiosmtpd) for the tests. Owned by the delivery work."""
