using SandboxRunner.Boxes;
using SandboxRunner.Boxes.Docker;

namespace SandboxRunner.IntegrationTests.Infrastructure;

/// <summary>
/// The host's engine with every task and setup container under gVisor (runtime <c>runsc</c>, which .ci/setup installs
/// and registers): the contract bodies that hold under runc must hold here too. Disposing a harness proves each of its
/// task and verification containers ran under runsc, and the runner's own helpers (egress proxy, network holders) under the engine's default.
/// </summary>
public sealed class GvisorEngine(DockerFixture docker) : IEngineUnderTest
{
    public const string Name = "runsc";

    internal DockerEngine Engine => docker.Engine;

    DockerEngine IEngineUnderTest.Engine => Engine;

    public string? Runtime => Name;

    public async Task<RunnerHarness> HarnessAsync(Func<Configuration.RunnerConfig, Configuration.RunnerConfig>? configure = null, Func<string, string?>? hostEnvironment = null)
    {
        var runtimes = await docker.Engine.RuntimesAsync(CancellationToken.None);
        if (runtimes.Find(Name) is null)
        {
            throw new InvalidOperationException($"the engine has no '{Name}' runtime (it lists {string.Join(", ", runtimes.Available.Keys)}); run `bash .ci/setup`, which installs gVisor and registers it");
        }

        var harness = await RunnerHarness.CreateAsync(docker, c => (configure?.Invoke(c) ?? c) with { Runtime = Name }, hostEnvironment);
        harness.LeftBehindChecks.Add(AssertRanUnderGvisorAsync);
        return harness;
    }

    public Task<string> HostGatewayAsync() => docker.HostGatewayAsync();

    private static Task AssertRanUnderGvisorAsync(RunnerHarness harness)
    {
        // Containers only created (an environment's run image is committed from one) never ran anything.
        foreach (var spec in harness.Engine.Specs.Where(s => harness.Engine.Started.ContainsKey(s.Key)).Select(s => s.Value))
        {
            // A verification container runs the tree's code, so it is the task's like its agent's, not a helper; the copy
            // transport's look reads the tree as root, so it keeps the task's runtime too.
            var helper = spec.Labels.TryGetValue(Labels.Role, out var role) && role != Labels.VerifyRole && role != Labels.LookRole;
            Assert.True(helper ? spec.Runtime is null : spec.Runtime == Name, $"{spec.Image} ({string.Join(",", spec.Labels.Values)}) ran under '{spec.Runtime ?? "the default"}'");
        }

        return Task.CompletedTask;
    }
}
