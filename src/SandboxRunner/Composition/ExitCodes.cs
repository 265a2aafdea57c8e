namespace SandboxRunner.Host.Composition;

/// <summary>What a pipeline branches on. Documented in <c>--help</c>, the README and docs/ci.md.</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A task did not succeed (failed, timeout, cancelled, violations), or <c>--apply</c>/<c>apply</c> was refused.</summary>
    public const int TasksFailed = 1;

    /// <summary>Bad input: a command-line argument, the tasks file, <c>.mcp-codex.json</c>, an id. The message names the field and the fix.</summary>
    public const int BadInput = 2;

    /// <summary>The machine, not the input: Docker unreachable, git failing.</summary>
    public const int Infrastructure = 3;

    /// <summary>
    /// The run could not start its tasks: the task or proxy image failed to build (or a configured one is missing),
    /// or an environment's image or setup failed. Reports are written, each task failed with the reason.
    /// </summary>
    public const int NotStarted = 4;

    /// <summary>Stopped by SIGINT (Ctrl-C) or SIGTERM: the run was cancelled and each task's work kept (128 + SIGINT).</summary>
    public const int Interrupted = 130;

    /// <summary>The codes in words, as <c>--help</c> ends.</summary>
    public const string Text = """
        exit codes: 0 every task succeeded · 1 a task failed, timed out, was cancelled or broke a policy (or an apply
                    was refused) · 2 bad input (the message names the field and the fix) · 3 infrastructure (Docker
                    unreachable, git failing) · 4 the run could not start its tasks (an image failed to build or is
                    missing, an environment's setup failed) · 130 interrupted (Ctrl-C or SIGTERM; work kept as cancelled)
        """;
}
