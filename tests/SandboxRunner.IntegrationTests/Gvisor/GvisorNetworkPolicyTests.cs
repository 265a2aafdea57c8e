using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Gvisor;

/// <summary>Every network policy (<see cref="NetworkPolicyContract"/>) with every task under gVisor (runtime runsc).</summary>
[Collection(DockerCollection.Name)]
public sealed class GvisorNetworkPolicyTests(DockerFixture docker) : NetworkPolicyContract(new GvisorEngine(docker));
