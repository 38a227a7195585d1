"""The package version (its own module: the model-folder writer records it without importing
``tic`` itself, whose ``__init__`` imports the pipeline)."""

__version__ = "0.1.0"
