using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>The attacks of issue 9 (<see cref="HostileAgentPipelineContract"/>) on the host's engine under runc.</summary>
[Collection(DockerCollection.Name)]
public sealed class HostileAgentPipelineTests(DockerFixture docker) : HostileAgentPipelineContract(docker);
