using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;

namespace SandboxRunner.Host;

/// <summary><c>sandbox-runner image build</c>: what the first run would build, done by hand.</summary>
internal static class ImageCommand
{
    public static async Task<int> BuildAsync(CommandLine options, CancellationToken cancellationToken)
    {
        using var loggerFactory = LoggerFactory.Create(b => b.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace).SetMinimumLevel(LogLevel.Information));
        using var engine = new DockerEngine(loggerFactory.CreateLogger<DockerEngine>());
        var git = new GitCli(loggerFactory.CreateLogger<GitCli>());
        using var workspace = new Workspace(options.RepoPath, engine, git, loggerFactory);
        try
        {
            var runner = await workspace.GetRunnerAsync(cancellationToken);
            await runner.EnsureImagesAsync(includeProxy: true, cancellationToken);
            await Console.Out.WriteLineAsync(runner.Config.Image is null ? runner.Image : $"{runner.Image} (configured)");
            await Console.Out.WriteLineAsync(runner.ProxyImage);
            return 0;
        }
        catch (Exception e) when (e is InvalidInputException or ImageBuildException or InvalidOperationException)
        {
            await Console.Error.WriteLineAsync($"sandbox-runner: {e.Message}");
            return 1;
        }
    }
}
