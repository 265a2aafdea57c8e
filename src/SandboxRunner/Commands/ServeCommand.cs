using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SandboxRunner.Git;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Runs;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.Host.Commands;

/// <summary>No verb: the MCP stdio server, what MCP clients start.</summary>
internal static class ServeCommand
{
    public static async Task<int> ExecuteAsync(CommandLine options)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder([]);

        // stdout carries the protocol from the first byte; everything else goes to stderr.
        builder.Logging.ClearProviders();
        builder.Logging.AddStderr(options.Verbose ? LogLevel.Debug : LogLevel.Warning);

        builder.Services.AddSingleton<GitCli>();
        builder.Services.AddSingleton<IContainerEngine>(sp => new DockerEngine(sp.GetRequiredService<ILogger<DockerEngine>>()));
        builder.Services.AddSingleton(sp => new Workspace(
            options.RepoPath,
            sp.GetRequiredService<IContainerEngine>(),
            sp.GetRequiredService<GitCli>(),
            sp.GetRequiredService<ILoggerFactory>()));

        // When the client goes away (stdin closes) or the process is asked to stop, runs in progress are
        // cancelled and torn down before the process exits: a stopped server leaves no container behind.
        builder.Services.AddHostedService<RunShutdown>();
        builder.Services.AddHostedService<ClientWatch>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));

        builder.Services
            .AddMcpServer(o => o.ServerInfo = new() { Name = "sandbox-runner", Version = ServerVersion.Current })
            .WithStdioServerTransport()
            .WithTools(ToolCatalog.Create())
            .WithResources<RunResources>();

        await builder.Build().RunAsync();
        return ExitCodes.Success;
    }
}

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
