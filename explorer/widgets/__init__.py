"""The explorer's panels; each is built from an ExplorerState and never touches torch."""
