using Microsoft.Extensions.Hosting;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Mcp;

/// <summary>The server's runs: recovery at start in the background, every run cancelled and torn down at stop.</summary>
internal sealed class RunShutdown(Workspace workspace, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        // At the first sign of stopping, not when this service's turn comes: a blocking tool call keeps
        // the MCP transport's own shutdown waiting until its run ends.
        lifetime.ApplicationStopping.Register(workspace.CancelAll);

        // Orphan removal and recovery run at start, in the background: tool calls never wait for them.
        _ = Task.Run(() => workspace.RecoverAtStartAsync(lifetime.ApplicationStopping), CancellationToken.None);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => workspace.ShutdownAsync(cancellationToken);
}

internal static class ServerVersion
{
    public static string Current { get; } =
        typeof(RunShutdown).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.1.0";
}
