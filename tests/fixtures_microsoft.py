"""A local HTTPS stand-in for the Microsoft identity platform and Graph (trustme certificate),
written from Microsoft's public docs. Owned by the Microsoft integration work."""
