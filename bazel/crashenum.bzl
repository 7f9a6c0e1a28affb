"""Build macros shared by every package."""

def crashenum_test(name, deps = [], **kwargs):
    """A GoogleTest cc_test with the project's defaults.

    Args:
      name: target name.
      deps: extra dependencies; GoogleTest's main and GoogleMock are added.
      **kwargs: passed to cc_test (srcs, data, size, tags, ...).
    """
    native.cc_test(
        name = name,
        deps = deps + ["@gtest//:gtest_main", "@gtest//:gmock"],
        **kwargs
    )
