"""Benchmark and training code only: the LoCoMo reader (data), replay into a store,
scoring, `bench locomo`, and LTM-T and answer-adapter training. Product modules never
import this package (tests/test_layout.py checks); the CLI loads it inside the bench and
train commands."""
