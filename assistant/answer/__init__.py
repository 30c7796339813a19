"""How an answer is written and checked: the generator protocol and backends, prompts,
draft strategies, and the one pipeline that turns a draft into a checked Reply."""
