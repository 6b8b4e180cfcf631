"""Fine-tuning: labelled data readers, features, metrics and answer decoding."""
