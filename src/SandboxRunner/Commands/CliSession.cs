using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using SandboxRunner.Host.Composition;
using SandboxRunner.Runs;

namespace SandboxRunner.Host.Commands;

/// <summary>
/// What a verb opens: the runner's services from the one composition root (<see cref="RunnerServices"/>), the same
/// the MCP server is made of; disposing it disposes them (workspace, engine, logs flushed).
/// </summary>
internal sealed class CliSession(HostSettings settings, LogLevel level = LogLevel.Warning) : IDisposable
{
    private readonly ServiceProvider _services = RunnerServices.Open(settings, level);

    public Workspace Workspace => _services.GetRequiredService<Workspace>();

    public Task<Runner> RunnerAsync(CancellationToken cancellationToken) => Workspace.GetRunnerAsync(cancellationToken);

    public void Dispose() => _services.Dispose();
}
