"""Builds a C/C++ binary without the sanitizers of --config=asan.

A library loaded with LD_PRELOAD into programs that were not built with
sanitizers (e2fsck, sh, dd) must not pull in the sanitizer runtimes: ASan
refuses to start when its runtime is not the first library loaded. Bazel
puts --copt and --linkopt after a target's own copts and linkopts, so the
target cannot switch them off; this rule builds it in a configuration whose
--copt and --linkopt lack every -fsanitize option instead.
"""

def _keep(flags):
    return [f for f in flags if "sanitize" not in f]

_COPT = "//command_line_option:copt"
_LINKOPT = "//command_line_option:linkopt"

def _without_sanitize_flags(settings, attr):
    return {
        _COPT: _keep(settings[_COPT]),
        _LINKOPT: _keep(settings[_LINKOPT]),
    }

_no_sanitizers_transition = transition(
    implementation = _without_sanitize_flags,
    inputs = [_COPT, _LINKOPT],
    outputs = [_COPT, _LINKOPT],
)

def _without_sanitizers_impl(ctx):
    built = ctx.attr.binary[0][DefaultInfo].files.to_list()
    if len(built) != 1:
        fail("%s must build exactly one file" % ctx.attr.binary[0].label)
    out = ctx.actions.declare_file(ctx.label.name)
    ctx.actions.symlink(
        output = out,
        target_file = built[0],
        is_executable = True,
    )
    return [DefaultInfo(
        files = depset([out]),
        runfiles = ctx.runfiles(files = [out]),
    )]

without_sanitizers = rule(
    implementation = _without_sanitizers_impl,
    doc = "The file of `binary` (a cc_binary), built without sanitizers, " +
          "under this target's name.",
    attrs = {
        "binary": attr.label(
            mandatory = True,
            cfg = _no_sanitizers_transition,
        ),
        "_allowlist_function_transition": attr.label(
            default = "@bazel_tools//tools/allowlists/" +
                      "function_transition_allowlist",
        ),
    },
)
