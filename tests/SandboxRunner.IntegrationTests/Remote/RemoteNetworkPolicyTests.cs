using SandboxRunner.IntegrationTests.Contracts;

namespace SandboxRunner.IntegrationTests.Remote;

/// <summary>
/// <c>network_policy: deny</c> on a second engine that cannot see this machine's files (copy transport):
/// its egress gateway is built of that engine's own network and containers, and the servers on this
/// machine are reached only through it.
/// </summary>
[Collection(RemoteEngineCollection.Name)]
public sealed class RemoteNetworkPolicyTests(RemoteEngineFixture remote) : DenyNetworkContract(remote);
