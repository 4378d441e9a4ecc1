"""Crosstalk engine: everything that computes. Imports neither streamlit nor pages."""
