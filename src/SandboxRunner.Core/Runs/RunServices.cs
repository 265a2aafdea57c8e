using Microsoft.Extensions.Logging;
using SandboxRunner.Configuration;
using SandboxRunner.Git;
using SandboxRunner.Boxes;

namespace SandboxRunner.Runs;

/// <summary>What every run of one <see cref="Runner"/> (one config) shares: built once by the runner, handed to each <see cref="RunExecution"/>.</summary>
internal sealed record RunServices(
    HostRepository Repository,
    RunnerConfig Config,
    ITaskBackend Backend,
    GitCli Git,
    ImageProvisioner Images,
    TaskRunner TaskRunner,
    ConcurrencyGate ProcessGate,
    RunRegistry Runs,
    RunLeftovers Leftovers,
    TimeProvider Clock,
    Func<string, string?> HostEnvironment,
    ILoggerFactory LoggerFactory)
{

    /// <summary>The repository's label on everything its runs create in the engine.</summary>
    public string Scope { get; } = Labels.ScopeOf(Repository.CommonDir);
}
