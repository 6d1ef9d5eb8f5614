"""A user's own package for the analyze tests: model factories named as module:analyze_user_pkg.models:<fn>."""
