using SandboxRunner.IntegrationTests.Contracts;
using SandboxRunner.IntegrationTests.Infrastructure;

namespace SandboxRunner.IntegrationTests.Gvisor;

/// <summary>What the container lets an agent do, and what it keeps from it (<see cref="IsolationContract"/>), with every task under gVisor (runtime runsc).</summary>
[Collection(DockerCollection.Name)]
public sealed class GvisorIsolationTests(DockerFixture docker) : IsolationContract(new GvisorEngine(docker));
