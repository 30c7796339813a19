"""Document import: readers that turn files into sections (one module per format), the
chunker, and the streaming import pipeline. Readers and chunker are pure functions over
files (no database, no models); import what you use from its module."""
