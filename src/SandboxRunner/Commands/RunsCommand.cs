using System.Globalization;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Host.Reports;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner runs</c>: what <c>list_codex_runs</c> returns.</summary>
internal static class RunsCommand
{
    public static Task<int> ExecuteAsync(CommandLine options) => Failures.GuardAsync(async () =>
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
            var finished = run.Tasks.Count(t => t.State == Runs.TaskState.Finished);
            await Console.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{run.RunId,-40} {Wire(run.Status),-11} {run.StartedAt:yyyy-MM-dd HH:mm:ss}Z  {finished}/{run.Tasks.Count} task(s) finished{(run.Problem is null ? "" : $"  {run.Problem}")}"));
        }

        return ExitCodes.Success;
    });

    public static string Wire(Runs.RunState state) => state.ToString().ToLowerInvariant();
}
