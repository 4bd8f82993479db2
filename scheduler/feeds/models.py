"""Calendar subscription feeds: models."""
