using SandboxRunner.Host.Reports;
using SandboxRunner.Runs;
using Spectre.Console.Cli;

using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Commands;

/// <summary><c>sandbox-runner doctor</c>: what <c>sandbox_doctor</c> returns, one line a check.</summary>
internal sealed class DoctorCommand : AsyncCommand<JsonSettings>
{
    public const string About = """
        Checks Docker, the images, the repository, auth and the config (as sandbox_doctor), each with a fix.
        Exit 0 when every check passes or only warns, 3 otherwise.
        """;

    public override Task<int> ExecuteAsync(CommandContext context, JsonSettings options, CancellationToken cancellationToken) => Failures.GuardAsync(async () =>
    {
        using var session = new CliSession(options);
        var report = await Doctor.ExamineAsync(session.Workspace.RepoPath, await session.Workspace.CurrentBackendAsync(CancellationToken.None), session.Workspace.Git, Environment.GetEnvironmentVariable, CancellationToken.None);
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
