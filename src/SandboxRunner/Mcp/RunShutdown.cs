using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SandboxRunner.Host.Composition;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Mcp;

/// <summary>
/// The server's workspace, opened by the first call that needs it or <see cref="OpenAfter"/> after the server has
/// started, whichever comes first, rather than at start: a server answers <c>initialize</c> and <c>tools/list</c>
/// without loading the engine's client, asking Docker or git anything, yet a server nobody calls still recovers
/// what a killed one left. When it opens, the start-up recovery (orphans of killed servers, their task trees)
/// begins in the background and every run is tied to the process's stop; at stop, runs in progress are cancelled
/// and torn down.
/// </summary>
internal sealed class ServerWorkspace(IHostApplicationLifetime lifetime)
{
    /// <summary>Long enough for a client's handshake to be answered first, short enough that recovery still starts with the server.</summary>
    public static TimeSpan OpenAfter { get; } = TimeSpan.FromSeconds(1);

    private volatile Workspace? _opened;

    /// <summary>
    /// Wraps the composition root's <see cref="Workspace"/> registration so that making it also starts what a server
    /// does with it (whatever the root makes it of: that stays the root's business).
    /// </summary>
    public static void OpenOnFirstUse(IServiceCollection services)
    {
        var made = services.LastOrDefault(d => d.ServiceType == typeof(Workspace) && d.ImplementationFactory is not null)
            ?? throw new InvalidOperationException("the runner's services must be added (AddRunner) before the server's");
        services.Remove(made);
        services.AddSingleton<ServerWorkspace>();
        services.AddSingleton(sp =>
        {
            var workspace = (Workspace)made.ImplementationFactory!(sp);
            sp.GetRequiredService<ServerWorkspace>().Opened(workspace);
            return workspace;
        });
    }

    private void Opened(Workspace workspace)
    {
        StartupTrace.Mark("workspace opened");
        _opened = workspace;

        // At the first sign of stopping, not when the shutdown service's turn comes: a blocking tool call keeps
        // the MCP transport's own shutdown waiting until its run ends.
        lifetime.ApplicationStopping.Register(workspace.CancelAll);

        // Orphan removal and recovery run in the background: tool calls never wait for them.
        _ = Task.Run(() => workspace.RecoverAtStartAsync(lifetime.ApplicationStopping), CancellationToken.None);
    }

    public Task ShutdownAsync(CancellationToken cancellationToken) => _opened?.ShutdownAsync(cancellationToken) ?? Task.CompletedTask;
}

/// <summary>At stop, every run of the server's workspace (when one was opened) cancelled and torn down.</summary>
internal sealed class RunShutdown(ServerWorkspace workspace, IServiceProvider services, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        StartupTrace.Mark("hosted services starting");
        lifetime.ApplicationStarted.Register(() => _ = OpenSoonAsync(lifetime.ApplicationStopping));
        return Task.CompletedTask;
    }

    // A server nobody calls still removes what killed servers left and recovers their runs, as it did when the
    // workspace opened at start; a call that comes first has opened it already (the singleton is made once).
    private async Task OpenSoonAsync(CancellationToken stopping)
    {
        try
        {
            await Task.Delay(ServerWorkspace.OpenAfter, stopping);
            services.GetRequiredService<Workspace>();
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception)
        {
            // Opening failed (no repository, no engine): the first call that needs the workspace says why.
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => workspace.ShutdownAsync(cancellationToken);
}

internal static class ServerVersion
{
    public static string Current { get; } =
        typeof(RunShutdown).Assembly.GetName().Version is { } v ? $"{v.Major}.{v.Minor}.{v.Build}" : "0.1.0";
}
