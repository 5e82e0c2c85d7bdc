"""Example Swarm Learning programs shipped with the project."""
