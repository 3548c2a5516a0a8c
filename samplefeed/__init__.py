"""A fake SAPI3 server with realistic Westhoek taalicoon events."""
