using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>Every containment attack of issue 10 (<see cref="HostileAgentContract"/>) on the host's engine, tasks under its default runtime (runc).</summary>
[Collection(DockerCollection.Name)]
public sealed class HostileAgentContainmentTests(DockerFixture docker) : HostileAgentContract(docker);
