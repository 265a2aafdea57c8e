using SandboxRunner.Host.Reports;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner cancel RUN</c>: cancels a run whichever process runs it (see <see cref="Runs.RunCancellation"/>).</summary>
internal static class CancelCommand
{
    public static Task<int> ExecuteAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options.Settings);
        var runner = await session.RunnerAsync(CancellationToken.None);
        var outcome = await runner.CancelAnywhereAsync(options.Arguments[0], TimeSpan.FromSeconds(options.WaitSec), CancellationToken.None);
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
