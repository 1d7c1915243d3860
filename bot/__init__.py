"""The Rasa server side: NLU components, channels, evaluation. Never imports ``knowledge``."""
