using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests;

/// <summary>What the container lets an agent do, and what it keeps from it (<see cref="IsolationContract"/>), on the host's engine under runc.</summary>
[Collection(DockerCollection.Name)]
public sealed class IsolationTests(DockerFixture docker) : IsolationContract(docker);
