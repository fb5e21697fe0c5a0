"""slogen: SLOs as code. One slos.yaml drives Prometheus rules, Grafana dashboards and a deploy gate."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("slogen")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
