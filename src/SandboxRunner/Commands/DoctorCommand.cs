using SandboxRunner.Host.Reports;
using SandboxRunner.Runs;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner doctor</c>: what <c>sandbox_doctor</c> returns, one line a check.</summary>
internal static class DoctorCommand
{
    public static Task<int> ExecuteAsync(CommandLine options) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options.Settings);
        var report = await Doctor.ExamineAsync(session.Workspace.RepoPath, session.Engine, session.Workspace.Git, Environment.GetEnvironmentVariable, CancellationToken.None);
        if (options.Json)
        {
            await JsonOutput.WriteAsync(report);
        }
        else
        {
            foreach (var check in report.Checks)
            {
                await Console.Out.WriteLineAsync($"{check.Status,-4}  {check.Check,-12}  {check.Detail}{(check.Fix is null ? "" : $"\n{"",18}fix: {check.Fix}")}");
            }
        }

        return report.Ok ? ExitCodes.Success : ExitCodes.Infrastructure;
    });
}
