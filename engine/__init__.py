"""BERT Explorer engine: a from-scratch PyTorch BERT, its tokenizer, checkpoints, inference and training. Never imports Qt."""
