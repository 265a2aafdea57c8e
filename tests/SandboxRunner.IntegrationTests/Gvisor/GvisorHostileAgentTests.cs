using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Gvisor;

/// <summary>Every containment attack of issue 10 (<see cref="HostileAgentContract"/>) with every task under gVisor (runtime runsc).</summary>
[Collection(DockerCollection.Name)]
public sealed class GvisorHostileAgentTests(DockerFixture docker) : HostileAgentContract(new GvisorEngine(docker));
