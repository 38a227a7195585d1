"""Data: manifests (JSON Lines of image + text), data-set loaders, captions, training datasets."""

from tic.data.manifest import Record, read_manifest, write_manifest

__all__ = ["Record", "read_manifest", "write_manifest"]
