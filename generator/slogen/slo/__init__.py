"""Pure SLO maths: what the rendered rules mean, computed from the model and the rule layout."""
