"""BERT Explorer GUI (PySide6 + pyqtgraph)."""
