"""Custom NLU components for Chinese input."""
