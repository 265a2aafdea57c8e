using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Mcp;

/// <summary>No verb: the MCP stdio server, what MCP clients start. Made of the runner's services plus its MCP parts.</summary>
internal static class McpServer
{
    public static async Task<int> RunAsync(HostSettings settings)
    {
        // No default configuration sources (appsettings files watched for changes, user secrets, ...) nor logging
        // providers: the server reads none of them, the composition root replaces the providers, and loading them
        // was a tenth of the start-up (BENCHMARKS.md). The console lifetime (SIGTERM, Ctrl+C) is there all the same.
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());

        // stdout carries the protocol from the first byte; the composition root sends every log line to stderr.
        builder.Services.AddRunner(settings);
        StartupTrace.Mark("runner services registered");
        builder.Services.AddRunnerMcp().WithStdioServerTransport();

        // The client going away (stdin closing) stops the server; stopping waits for runs to tear down.
        builder.Services.AddHostedService<ClientWatch>();
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(60));

        StartupTrace.Mark("services registered");
        using var host = builder.Build();
        StartupTrace.Mark("host built");
        host.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStarted.Register(() => StartupTrace.Mark("host started"));
        await host.RunAsync();
        return ExitCodes.Success;
    }

    /// <summary>
    /// The server's MCP parts on top of the runner's services, without a transport: stdio in the process, a pipe in the
    /// in-process tests. The workspace (engine, git, repository) opens at the first call that needs it
    /// (<see cref="ServerWorkspace"/>). When the process is asked to stop, runs in progress are cancelled and torn down
    /// before it exits: a stopped server leaves no container behind.
    /// </summary>
    /// <param name="services">The runner's services (<see cref="RunnerServices.AddRunner"/>).</param>
    /// <param name="toolSnapshotFolder">Where the tool snapshot is looked for (<see cref="ToolSnapshot"/>); the host's folder by default.</param>
    public static IMcpServerBuilder AddRunnerMcp(this IServiceCollection services, string? toolSnapshotFolder = null)
    {
        ServerWorkspace.OpenOnFirstUse(services);
        services.AddHostedService<RunShutdown>();
        var snapshot = ToolSnapshot.Read(toolSnapshotFolder ?? AppContext.BaseDirectory);
        StartupTrace.Mark(snapshot is null ? "no tool snapshot" : "tool snapshot read");
        ToolCatalog.AddTools(services, snapshot);
        var builder = services.AddMcpServer(o => o.ServerInfo = new() { Name = "sandbox-runner", Version = ServerVersion.Current });
        ResourceCatalog.AddResources(builder, snapshot);
        return builder;
    }
}
