"""Decision rules and model selection."""
