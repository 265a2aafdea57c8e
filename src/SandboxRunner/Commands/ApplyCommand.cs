using System.ComponentModel;
using System.Text;
using SandboxRunner.Git;
using SandboxRunner.Host.Reports;
using SandboxRunner.Policy;
using Spectre.Console;
using Spectre.Console.Cli;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner apply RUN TASK</c>: what <c>apply_codex_result</c> does, through the same <see cref="Runs.Runner.ApplyAsync"/>.</summary>
internal sealed class ApplySettings : JsonSettings
{
    [CommandArgument(0, "<RUN>")]
    [Description("the run's id")]
    public string Run { get; init; } = "";

    [CommandArgument(1, "<TASK>")]
    [Description("the task whose change to bring in")]
    public string Task { get; init; } = "";

    [CommandOption("--attempt <K>")]
    [Description("that attempt of a task run with attempts, 1 to 8, instead of the best")]
    public string? AttemptText { get; init; }

    public int? Attempt => WholeNumber("--attempt", AttemptText, 1, 8, "", out var k).Successful ? k : null;

    public override ValidationResult Validate() => WholeNumber("--attempt", AttemptText, 1, 8, "a whole number from 1 to 8", out _);
}

internal sealed class ApplyCommand : AsyncCommand<ApplySettings>
{
    public const string About = """
        Brings a finished task's branch into the working tree and index like `git cherry-pick --no-commit`
        (as apply_codex_result). For a task run with attempts: the best attempt, or attempt K with --attempt.
        On a conflict, or local changes in a path it would write, it changes nothing and lists the paths.
        Exit 0 applied, 1 refused, 2 unknown run, task or attempt, or a task that broke a policy.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, ApplySettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var runner = await session.RunnerAsync(CancellationToken.None);
        var outcome = await runner.ApplyAsync(options.Run, options.Task, options.Attempt, CancellationToken.None);
        if (options.Json)
        {
            await JsonOutput.WriteAsync(outcome);
        }
        else
        {
            await Console.Out.WriteLineAsync(Describe(options.Task, outcome));
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
