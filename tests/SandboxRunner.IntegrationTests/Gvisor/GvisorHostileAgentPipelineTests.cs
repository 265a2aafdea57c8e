using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Gvisor;

/// <summary>The attacks of issue 9 on the pipeline and its limits (<see cref="HostileAgentPipelineContract"/>) with every task under gVisor (runtime runsc).</summary>
[Collection(DockerCollection.Name)]
public sealed class GvisorHostileAgentPipelineTests(DockerFixture docker) : HostileAgentPipelineContract(new GvisorEngine(docker));
