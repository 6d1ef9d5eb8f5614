"""A factory module that fails while importing (as a user's module with a missing dependency would)."""

import a_package_that_is_not_installed  # noqa: F401
