"""Building the bundled default model: held-out split, probe sentences, export and model card."""
