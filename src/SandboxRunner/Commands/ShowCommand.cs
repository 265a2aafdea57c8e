using System.ComponentModel;
using System.Globalization;
using System.Text;
using SandboxRunner.Configuration;
using SandboxRunner.Host.Reports;
using SandboxRunner.Policy;
using SandboxRunner.Runs;
using SandboxRunner.Verification;
using Spectre.Console.Cli;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner show RUN [TASK]</c>: what <c>get_codex_run</c> returns, or one task's result.</summary>
internal sealed class ShowSettings : JsonSettings
{
    [CommandArgument(0, "<RUN>")]
    [Description("the run's id (`sandbox-runner runs` lists them)")]
    public string Run { get; init; } = "";

    [CommandArgument(1, "[TASK]")]
    [Description("one task of the run: its whole result")]
    public string? Task { get; init; }
}

internal sealed class ShowCommand : AsyncCommand<ShowSettings>
{
    public const string About = """
        A run's status and tasks (as get_codex_run), or one task's result: status, summary, changed files,
        violations, notes, the commands the agent ran with the end of each one's output, the verification (each
        verify command, its exit code and output's end, the changed inputs), the attempts, and where its patch and
        branch are. Exit 0, 2 for an unknown run or task.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, ShowSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        var runId = options.Run;
        if (!Ids.IsValid(runId))
        {
            throw new InvalidInputException("show arguments", "RUN", Ids.Rule);
        }

        using var session = new CliSession(options);
        var runner = await session.RunnerAsync(CancellationToken.None);
        var view = await runner.GetRunAsync(runId, CancellationToken.None)
            ?? throw new InvalidInputException("show arguments", "RUN", $"no run '{runId}' in this repository (`sandbox-runner runs` lists them)");
        if (options.Task is null)
        {
            await (options.Json ? JsonOutput.WriteAsync(view) : Console.Out.WriteAsync(Describe(view)));
            return ExitCodes.Success;
        }

        var taskId = options.Task;
        var task = view.Tasks.FirstOrDefault(t => t.TaskId == taskId)
            ?? throw new InvalidInputException("show arguments", "TASK", $"run '{runId}' has no task '{taskId}'; its tasks are {string.Join(", ", view.Tasks.Select(t => t.TaskId))}");
        var result = task.Result ?? await runner.ReadResultAsync(runId, taskId, CancellationToken.None);
        if (options.Json)
        {
            await JsonOutput.WriteAsync(task with { Result = result });
        }
        else
        {
            await Console.Out.WriteAsync(result is null ? $"{taskId}: {Platform.WireName.Of(task.State)}, no result yet\n" : Describe(runner, runId, result));
        }

        return ExitCodes.Success;
    });

    private static string Describe(RunStatusView view)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"run {view.RunId}: {RunsCommand.Wire(view.Status)}, base {view.BaseCommit}, started {view.StartedAt:yyyy-MM-dd HH:mm:ss}Z");
        text.Append(view.FinishedAt is { } f ? string.Create(CultureInfo.InvariantCulture, $", finished {f:yyyy-MM-dd HH:mm:ss}Z\n") : "\n");
        if (view.Problem is not null)
        {
            text.Append("problem: ").Append(view.Problem).Append('\n');
        }

        text.Append(RunsCommand.Outcomes(view)).Append('\n');

        foreach (var task in view.Tasks)
        {
            var r = task.Result;
            text.Append("  ").Append(task.TaskId).Append("  ")
                .Append(r is null ? Platform.WireName.Of(task.State) : $"{r.Status.Wire()}  {r.FilesChanged.Count + r.FilesChangedOmitted} file(s)  {r.Violations.Count + r.ViolationsOmitted} violation(s)  {r.Branch ?? "(no branch: nothing changed)"}")
                .Append(r?.Verification is { Commands.Count: > 0 } v ? $"  verification {v.Status.Wire()}" : "")
                .Append(r?.Attempts is { } attempts ? $"  best of {attempts.Count} attempts: {r.BestAttempt}" : "")
                .Append('\n');
        }

        return text.ToString();
    }

    private static bool IsViolationNote(string line) =>
        line.StartsWith("violation [", StringComparison.Ordinal) || (line.StartsWith("… and ", StringComparison.Ordinal) && line.EndsWith("more violation(s), listed in violations", StringComparison.Ordinal));

    private static string Describe(Runner runner, string runId, TaskResult r)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"{r.TaskId}: {r.Status.Wire()} (exit code {r.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}) in {r.DurationMs / 1000.0:0.0} s, {r.Usage.InputTokens + r.Usage.OutputTokens:N0} tokens\n");
        text.Append("summary: ").Append(ReportText.Cap(r.Summary, 4000)).Append('\n');
        text.Append(CultureInfo.InvariantCulture, $"files changed ({r.FilesChanged.Count + r.FilesChangedOmitted}):\n");
        foreach (var file in r.FilesChanged.Take(100))
        {
            text.Append("  ").Append(TerminalText.Neutralise(file)).Append('\n');
        }

        if (r.FilesChanged.Count > 100 || r.FilesChangedOmitted > 0)
        {
            text.Append("  … (result.json and files_changed.txt list them all)\n");
        }

        if (r.Violations.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"violations ({r.Violations.Count + r.ViolationsOmitted}):\n");
            foreach (var v in r.Violations.Take(50))
            {
                text.Append("  [").Append(v.Kind).Append("] ").Append(v.Path ?? v.Command).Append(": ").Append(v.Rule).Append('\n');
            }
        }

        // The notes repeat the violations for a manager that reads only them; here they are listed above once.
        var notes = string.Join('\n', r.NotesForManager.Split('\n').Where(line => !IsViolationNote(line)));
        if (notes.Length > 0)
        {
            text.Append("notes:\n").Append(ReportText.Cap(notes, 4000)).Append('\n');
        }

        if (r.CommandsRun.Count > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"commands the agent ran ({r.CommandsRun.Count}{(r.CommandsRun.Count > 50 ? ", the last 50" : "")}):\n");
            foreach (var c in r.CommandsRun.TakeLast(50))
            {
                text.Append(CultureInfo.InvariantCulture, $"$ {c.Cmd}  # exit {c.ExitCode?.ToString(CultureInfo.InvariantCulture) ?? "none"}\n");
                Indented(text, c.OutputTail, 1500);
            }
        }

        VerificationOf(text, r);
        Attempts(text, r);
        if (r.Logs.Stderr.Trim().Length > 0)
        {
            text.Append("codex stderr (its end):\n");
            Indented(text, r.Logs.Stderr, 2000);
        }

        text.Append("patch: ").Append(r.PatchFile is { } patch ? patch + (r.PatchApplicable ? " (applies to its base)" : "") : "none").Append('\n');
        text.Append("branch: ").Append(r.Branch ?? "none (nothing changed)").Append('\n');
        text.Append("folder: ").Append(runner.TaskFolder(runId, r.TaskId, r.BestAttempt)).Append('\n');
        return text.ToString();
    }

    /// <summary>The verify commands the runner ran, each with its exit code, time and output's end, and the inputs the task changed.</summary>
    private static void VerificationOf(StringBuilder text, TaskResult r)
    {
        if (r.Verification is not { Commands.Count: > 0 } v)
        {
            return;
        }

        text.Append("verification: ").Append(v.Status.Wire()).Append(v.Reason is null ? "" : $": {v.Reason}")
            .Append(CultureInfo.InvariantCulture, $" ({v.DurationMs / 1000.0:0.0} s)\n");
        foreach (var c in v.Commands)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"  $ {c.Command}  # {c.Status.Wire()}{(c.ExitCode is { } code ? $", exit {code}" : "")}{(c.Status == VerificationStatus.NotRun ? "" : $", {c.DurationMs / 1000.0:0.0} s")}\n");
            Indented(text, c.OutputTail, 4000, "    ");
        }

        if (v.ChangedInputs.Count > 0)
        {
            text.Append("  changed inputs (the task changed what the verify commands depend on):\n");
            foreach (var path in v.ChangedInputs.Take(50))
            {
                text.Append("    ").Append(TerminalText.Neutralise(path)).Append('\n');
            }

            var more = v.ChangedInputs.Count - Math.Min(50, v.ChangedInputs.Count) + v.ChangedInputsOmitted;
            if (more > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $"    … and {more} more\n");
            }
        }
    }

    /// <summary>A task run with attempts: each attempt, best first, with what ranked it.</summary>
    private static void Attempts(StringBuilder text, TaskResult r)
    {
        if (r.Attempts is not { } attempts)
        {
            return;
        }

        text.Append(CultureInfo.InvariantCulture, $"attempts ({attempts.Count}, best first; this result is attempt {r.BestAttempt}'s):\n");
        foreach (var a in attempts)
        {
            text.Append(CultureInfo.InvariantCulture,
                $"  #{a.Attempt}  {a.Status.Wire()}  verification {a.VerificationStatus.Wire()}  {a.ViolationCount} violation(s)  {a.ChangedInputCount} changed input(s)  {a.PatchBytes:N0}-byte patch  {a.Branch ?? "no branch"}\n");
        }
    }

    /// <summary>The end of an output, indented under the line it belongs to.</summary>
    private static void Indented(StringBuilder text, string output, int chars, string indent = "  ")
    {
        var tail = ReportText.Cap(output.TrimEnd(), chars, keepEnd: true);
        if (tail.Length == 0)
        {
            return;
        }

        foreach (var line in tail.Split('\n'))
        {
            text.Append(indent).Append("│ ").Append(line.TrimEnd('\r')).Append('\n');
        }
    }
}
