"""The domains IDA runs on, one folder each; each registers itself (``ida.core.registry``)."""
