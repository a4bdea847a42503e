"""Annotation readers and converters, one module per annotation format."""
