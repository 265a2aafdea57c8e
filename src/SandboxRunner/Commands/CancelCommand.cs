using System.ComponentModel;
using SandboxRunner.Host.Reports;
using Spectre.Console;
using Spectre.Console.Cli;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner cancel RUN</c>: cancels a run whichever process runs it (see <see cref="Runs.RunCancellation"/>).</summary>
internal sealed class CancelSettings : JsonSettings
{
    [CommandArgument(0, "<RUN>")]
    [Description("the run's id")]
    public string Run { get; init; } = "";

    [CommandOption("--wait <SECONDS>")]
    [Description("how long to wait for the owner to tear the run down, 0 to 3600 (default 60)")]
    public string? WaitText { get; init; }

    public int WaitSec => WholeNumber("--wait", WaitText, 0, 3600, "", out var w).Successful && w is { } seconds ? seconds : 60;

    public override ValidationResult Validate() => WholeNumber("--wait", WaitText, 0, 3600, "a whole number of seconds from 0 to 3600", out _);
}

internal sealed class CancelCommand : AsyncCommand<CancelSettings>
{
    public const string About = """
        Cancels a run whichever process runs it (another terminal's `run`, an MCP server): it asks the owner
        through .codex-runs/RUN/cancel-requested and waits up to --wait seconds (default 60) for it to tear down,
        each task's work kept as cancelled. If the owner is gone, its containers are removed by label and its
        task trees recovered here; if it does not answer in time, its containers are removed by label.
        Exit 0 cancelled (or not running), 2 unknown run.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, CancelSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var runner = await session.RunnerAsync(CancellationToken.None);
        var outcome = await runner.CancelAnywhereAsync(options.Run, TimeSpan.FromSeconds(options.WaitSec), CancellationToken.None);
        if (options.Json)
        {
            await JsonOutput.WriteAsync(outcome);
        }
        else
        {
            await Console.Out.WriteLineAsync(outcome.Message);
        }

        return ExitCodes.Success;
    });
}
