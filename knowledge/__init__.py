"""The bank's knowledge base: products, rates, fees, disclosures, branches, FAQ.

Only the action server (``actions/``) imports this package. The Rasa server
gets what it needs from here through generated files (``python -m knowledge
export-nlu``), never through imports.
"""
