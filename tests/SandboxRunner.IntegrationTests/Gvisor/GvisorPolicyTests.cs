using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Gvisor;

/// <summary>A hostile agent against the runner's policies (<see cref="PolicyContract"/>) with every task under gVisor (runtime runsc).</summary>
[Collection(DockerCollection.Name)]
public sealed class GvisorPolicyTests(DockerFixture docker) : PolicyContract(new GvisorEngine(docker));
