using System.Text;
using SandboxRunner.Git;
using SandboxRunner.Host.Reports;
using SandboxRunner.Policy;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner apply RUN TASK</c>: what <c>apply_codex_result</c> does, through the same <see cref="Runs.Runner.ApplyAsync"/>.</summary>
internal static class ApplyCommand
{
    public static Task<int> ExecuteAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options.Settings);
        var runner = await session.RunnerAsync(CancellationToken.None);
        var outcome = await runner.ApplyAsync(options.Arguments[0], options.Arguments[1], options.Attempt, CancellationToken.None);
        if (options.Json)
        {
            await JsonOutput.WriteAsync(outcome);
        }
        else
        {
            await Console.Out.WriteLineAsync(Describe(options.Arguments[1], outcome));
        }

        return outcome.Applied ? ExitCodes.Success : ExitCodes.TasksFailed;
    });

    /// <summary>One task's apply in words: the files, or the conflicting paths and why.</summary>
    public static string Describe(string taskId, ApplyOutcome outcome)
    {
        var text = new StringBuilder();
        text.Append(outcome.Applied ? $"applied {taskId}" : $"not applied {taskId}, nothing was changed").Append(": ").Append(outcome.Message);
        foreach (var file in outcome.Files.Take(200))
        {
            text.Append("\n  ").Append(TerminalText.Neutralise(file));
        }

        foreach (var conflict in outcome.Conflicts.Take(200))
        {
            text.Append("\n  conflict: ").Append(TerminalText.Neutralise(conflict.Path)).Append(" (").Append(ReportText.Cap(conflict.Reason, 300)).Append(')');
        }

        return text.ToString();
    }
}
