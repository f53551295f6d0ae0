"""Local stand-ins for services we cannot run for real in tests: GitHub's REST API, the Anthropic Messages
API, and a Kubernetes API server's service proxy. Each is a real HTTP server on 127.0.0.1 in a thread."""
