using SandboxRunner.Boxes;
using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>The backend contract on a real two-node swarm (<see cref="SwarmFixture"/>).</summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmBackendContractTests(SwarmFixture swarm) : BackendContract
{
    protected override ITaskBackend Backend => swarm.Backend;

    protected override string Image => DockerFixture.FakeCodexImage;

    protected override Task<string> ProxyImageAsync() => Task.FromResult(ImageRecipe.EgressProxy().Tag);
}
