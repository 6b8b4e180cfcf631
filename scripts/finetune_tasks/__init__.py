"""Fine-tuning tasks made from the shipped corpus (see scripts/build_finetune_tasks.py)."""
