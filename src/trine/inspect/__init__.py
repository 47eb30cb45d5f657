"""Inspection: summary tables, graph plots, conversion between the three APIs."""
from trine.inspect.summary import print_summary

__all__ = ["print_summary"]
