"""Every `assistant bench` command and the CLI of the evaluation and training commands.
Product modules never import this package (tests/test_layout.py checks)."""
