"""The older package's presigned bulk upload: models and the mixin's import path."""
