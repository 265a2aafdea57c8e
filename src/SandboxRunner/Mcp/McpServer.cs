using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Mcp;

/// <summary>No verb: the MCP stdio server, what MCP clients start. Made of the runner's services plus its MCP parts.</summary>
internal static class McpServer
{
    public static async Task<int> RunAsync(HostSettings settings)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder([]);

        // stdout carries the protocol from the first byte; the composition root sends every log line to stderr.
        builder.Services.AddRunner(settings);

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
