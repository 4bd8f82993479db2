"""The multidisciplinary expert panel: models."""
