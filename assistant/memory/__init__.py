"""What the assistant remembers and how it recalls it: the encoder, LTM-T and its
weights, recall, time expressions, facts that change, and the one memory-text schema."""
