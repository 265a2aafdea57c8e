using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Boxes.Swarm;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// Which engines of the swarm a box under <c>allow</c> could use, as the backend finds them before it lets <c>allow</c>
/// run (the pipeline and the doctor refuse on any): none on the fixture's swarm, whose engines all verify TLS clients;
/// each node engine when the runner reaches the swarm without TLS; and, over TLS, a node engine that answers TLS clients
/// without a certificate (stood in for by a relay whose TLS asks none).
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmEngineExposureTests(SwarmFixture swarm)
{
    [Fact]
    public async Task On_a_swarm_whose_engines_all_verify_tls_clients_no_api_is_exposed_so_the_open_network_is_allowed()
    {
        var exposed = await swarm.Backend.ExposedApiAsync(CancellationToken.None);

        Assert.Null(exposed);
    }

    [Fact]
    public async Task A_node_engine_reached_without_tls_is_named_as_an_exposed_api_so_the_open_network_is_refused()
    {
        // The same swarm, its manager reached over plain TCP: the runner would reach the worker's engine the same way.
        await using var relay = new EngineRelay(swarm.Manager);
        await using var backend = new SwarmBackend(NullLogger.Instance, relay.Connection, new SwarmOptions(swarm.Registry));

        var exposed = await backend.ExposedApiAsync(CancellationToken.None);

        Assert.Contains($"the engine of swarm node '{swarm.WorkerNodeName}' answers plain TCP at {swarm.Worker.Endpoint}", exposed, StringComparison.Ordinal);
        Assert.Contains($"reached at {relay.Connection.Endpoint} over plain TCP", exposed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_node_engine_that_answers_tls_clients_without_a_certificate_is_named_though_the_runner_reaches_it_with_one()
    {
        using var certificate = swarm.IssueServerCertificate();
        await using var relay = new EngineRelay(swarm.Worker, certificate);
        await using (await swarm.LabelWorkerEngineAsync(relay.Connection.Endpoint))
        {
            await using var backend = swarm.BackendWith(new SwarmOptions());

            var exposed = await backend.ExposedApiAsync(CancellationToken.None);

            Assert.Contains($"swarm node '{swarm.WorkerNodeName}': the engine at {relay.Connection.Endpoint} accepts TLS clients without a certificate", exposed, StringComparison.Ordinal);
        }

        Assert.Null(await swarm.Backend.ExposedApiAsync(CancellationToken.None));
    }
}
