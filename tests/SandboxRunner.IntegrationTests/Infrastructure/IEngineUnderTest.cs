using SandboxRunner.Configuration;
using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// An engine a shared test body (Contracts/) runs on: the host's own, a second one that cannot see this machine's
/// files, or the host's with every task under gVisor. Each knows how a runner is set up on it and what it must hold
/// after a test.
/// </summary>
public interface IEngineUnderTest
{
    internal DockerEngine Engine { get; }

    /// <summary>The OCI runtime the runner's task containers get here (and containers a test starts itself should); null for the engine's default.</summary>
    string? Runtime => null;

    /// <summary>A runner on this engine; disposing it proves the engine (and any other involved) kept nothing of its runs.</summary>
    Task<RunnerHarness> HarnessAsync(Func<RunnerConfig, RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null);

    /// <summary>The address at which this engine's containers reach servers the tests start on this machine.</summary>
    Task<string> HostGatewayAsync();
}
