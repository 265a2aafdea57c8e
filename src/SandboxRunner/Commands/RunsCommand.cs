using System.Globalization;
using Spectre.Console.Cli;
using SandboxRunner.Host.Reports;
using SandboxRunner.Runs;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner runs</c>: what <c>list_codex_runs</c> returns.</summary>
internal sealed class RunsCommand : AsyncCommand<JsonSettings>
{
    public const string About = "Lists the repository's runs, newest first (as list_codex_runs). Exit 0.";

    public override Task<int> ExecuteAsync(CommandContext context, JsonSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var runs = await (await session.RunnerAsync(CancellationToken.None)).ListRunsAsync(CancellationToken.None);
        if (options.Json)
        {
            await JsonOutput.WriteAsync(new RunList(runs));
            return ExitCodes.Success;
        }

        if (runs.Count == 0)
        {
            await Console.Out.WriteLineAsync("no runs in this repository yet (`sandbox-runner run TASKS_FILE` starts one)");
        }

        foreach (var run in runs)
        {
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{run.RunId,-40} {Wire(run.Status),-11} {run.StartedAt:yyyy-MM-dd HH:mm:ss}Z  {Outcomes(run)}{(run.Problem is null ? "" : $"  {run.Problem}")}"));
        }

        return ExitCodes.Success;
    });

    /// <summary>How the run's tasks ended, by outcome: <c>3 task(s): 1 succeeded, 2 failed</c>, then any not finished yet.</summary>
    public static string Outcomes(Runs.RunStatusView run)
    {
        var parts = run.Tasks
            .GroupBy(t => t.Ended is { } ended ? Outcome(ended) : Platform.WireName.Of(t.State))
            .OrderBy(g => Order.IndexOf(g.Key) is var i && i < 0 ? Order.Count : i)
            .Select(g => $"{g.Count()} {g.Key}");
        return $"{run.Tasks.Count} task(s){(run.Tasks.Count == 0 ? "" : ": ")}{string.Join(", ", parts)}";
    }

    private static readonly List<string> Order = ["succeeded", "failed", "timeout", "cancelled", "skipped", "running", "queued", "finished"];

    private static string Outcome(Runs.TaskStatus status) => status switch
    {
        Runs.TaskStatus.Success => "succeeded",
        _ => status.Wire(),
    };

    public static string Wire(Runs.RunState state) => Platform.WireName.Of(state);
}
