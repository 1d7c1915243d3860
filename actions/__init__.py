"""Custom actions of the assistant (rasa-sdk), thin wrappers over ``knowledge.queries``."""
