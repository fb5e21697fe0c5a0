"""Network clients: `http` is the one HTTP session factory Grafana, Prometheus and the rules handoff use."""
