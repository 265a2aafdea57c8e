using SandboxRunner.Boxes;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Contracts;

/// <summary>The backend contract against the engine on this machine.</summary>
[Collection(DockerCollection.Name)]
public sealed class DockerBackendContractTests(DockerFixture docker) : BackendContract
{
    protected override ITaskBackend Backend => docker.Engine.Backend;

    protected override string Image => DockerFixture.FakeCodexImage;
}
