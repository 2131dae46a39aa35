"""Ranking and selecting sites for IP characteristic towns."""
