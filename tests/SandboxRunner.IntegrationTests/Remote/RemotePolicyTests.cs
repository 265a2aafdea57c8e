using SandboxRunner.IntegrationTests.Contracts;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>
/// The hostile-agent policy checks on a second engine that cannot see this machine's files: the tree the
/// agent left comes back through the archive API and is judged, and its planted git settings still run
/// nowhere on this machine.
/// </summary>
[Collection(RemoteEngineCollection.Name)]
public sealed class RemotePolicyTests(RemoteEngineFixture remote) : PolicyContract(remote);
