using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using SandboxRunner.Git;
using SandboxRunner.Host;
using SandboxRunner.Host.Mcp;
using SandboxRunner.Runs;
using SandboxRunner.Sandbox;

var options = CommandLine.Parse(args);
if (options.Error is not null)
{
    await Console.Error.WriteLineAsync($"sandbox-runner: {options.Error}\n\n{CommandLine.Usage}");
    return 2;
}

if (options.Help)
{
    await Console.Error.WriteLineAsync(CommandLine.Usage);
    return 0;
}

if (options.Verb == "image build")
{
    return await ImageCommand.BuildAsync(options, CancellationToken.None);
}

var builder = Host.CreateApplicationBuilder([]);

// stdout carries the protocol from the first byte; everything else goes to stderr.
builder.Logging.ClearProviders();
builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
builder.Logging.SetMinimumLevel(options.Verbose ? LogLevel.Debug : LogLevel.Warning);

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
    .WithTools<RunTools>()
    .WithResources<RunResources>();

await builder.Build().RunAsync();
return 0;

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

internal sealed record CommandLine(string RepoPath, bool Verbose, bool Help, string? Error, string? Verb = null)
{
    public const string Usage = """
        usage: sandbox-runner [--repo PATH] [--verbose]
               sandbox-runner image build [--repo PATH]

        Serves MCP over stdio for the git repository at PATH (default: the current directory).
        Each Codex task runs in its own Docker container on its own checkout of the repository.

        image build   builds the task image (Dockerfile.codex, for the repository's codex_version) and the
                      egress proxy image when they are missing, as the first run would; prints their tags.
        """;

    public static CommandLine Parse(string[] args)
    {
        var repo = Directory.GetCurrentDirectory();
        var verbose = false;
        string? verb = null;
        if (args is ["image", "build", ..])
        {
            verb = "image build";
            args = args[2..];
        }

        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--repo" when i + 1 < args.Length:
                    repo = args[++i];
                    break;
                case "--repo":
                    return new CommandLine(repo, verbose, false, "--repo needs a path", verb);
                case "--verbose" or "-v":
                    verbose = true;
                    break;
                case "--help" or "-h":
                    return new CommandLine(repo, verbose, true, null, verb);
                default:
                    return new CommandLine(repo, verbose, false, $"unknown argument '{args[i]}'");
            }
        }

        return new CommandLine(repo, verbose, false, null, verb);
    }
}
