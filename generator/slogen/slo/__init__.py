"""The SLO domain, pure: windows as data, budget math and states, the deploy policy."""
