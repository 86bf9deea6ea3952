"""HTTP plumbing: routing, parameters, error rendering and the aiohttp application."""
