using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SandboxRunner.Git;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Composition;

/// <summary>
/// The one composition root: what the MCP server and every verb are made of, registered in one place. Logging goes
/// to stderr (stdout carries the protocol or the verb's output); the backends, git and the repository's
/// <see cref="Workspace"/> are singletons, created on first use, so a server comes up before it has asked Docker
/// or git anything. The server adds its MCP parts on top; a verb opens these alone (<see cref="Open"/>).
/// </summary>
internal static class RunnerServices
{
    public static IServiceCollection AddRunner(this IServiceCollection services, HostSettings settings, LogLevel level = LogLevel.Warning)
    {
        services.AddLogging(logging => logging.ClearProviders().AddStderr(settings.Verbose ? LogLevel.Debug : level));
        services.AddSingleton(sp => new GitCli(sp.GetRequiredService<ILogger<GitCli>>()));

        // The one place backends are made (BackendFactory, over the environment's DOCKER_HOST): the workspace asks for
        // the one a config names when it reads the config, so `backend` in .mcp-codex.json chooses it for every part
        // of the runner; the workspace disposes them.
        services.AddSingleton(sp => BackendFactory.Pool(null, sp.GetRequiredService<ILoggerFactory>()));

        services.AddSingleton(sp => new Workspace(
            settings.RepoPath,
            sp.GetRequiredService<ProcessBackends>(),
            sp.GetRequiredService<GitCli>(),
            sp.GetRequiredService<ILoggerFactory>()));
        return services;
    }

    /// <summary>What a verb opens: the runner's services, disposed (engine, workspace, logs flushed) with the provider.</summary>
    public static ServiceProvider Open(HostSettings settings, LogLevel level = LogLevel.Warning) =>
        new ServiceCollection().AddRunner(settings, level).BuildServiceProvider();
}
