"""screener: explainable eligibility screening for clinical trials."""

__version__ = "0.1.0"
