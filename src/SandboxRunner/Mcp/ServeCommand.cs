using Spectre.Console.Cli;
using SandboxRunner.Host.Composition;

namespace SandboxRunner.Host.Mcp;

/// <summary>No verb: the MCP stdio server, what MCP clients start (<see cref="McpServer"/>).</summary>
internal sealed class ServeCommand : AsyncCommand<HostSettings>
{
    public const string About = """
        Each Codex task runs in its own Docker container on its own checkout of the git repository at PATH
        (default: the current directory).
        """;

    public override Task<int> ExecuteAsync(CommandContext context, HostSettings settings, CancellationToken cancellationToken) =>
        McpServer.RunAsync(settings);
}
