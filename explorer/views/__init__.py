"""The explorer's views: each draws one region from the UI state and turns its input into actions."""
