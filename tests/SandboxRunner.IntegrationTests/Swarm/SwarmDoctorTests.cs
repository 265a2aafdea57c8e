using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Runs;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// Placement is visible before a run: the doctor, on a repository whose config names the swarm, lists the real
/// swarm's nodes with their state, as <c>sandbox_doctor</c> and <c>doctor</c> compose it (the workspace's backend for
/// the config as it reads now); on the TLS swarm it finds no engine a task under <c>allow</c> could use, and names the
/// node engine when the same swarm is reached without TLS.
/// </summary>
[Collection(SwarmCollection.Name)]
public sealed class SwarmDoctorTests(SwarmFixture swarm)
{
    [Fact]
    public async Task The_doctor_on_a_swarm_config_lists_both_nodes_and_their_state()
    {
        await using var pipeline = await SwarmPipeline.OpenAsync(swarm);
        var backend = await pipeline.Workspace.CurrentBackendAsync(CancellationToken.None);

        var report = await Doctor.ExamineAsync(pipeline.Repository.Path, backend, pipeline.Workspace.Git, _ => null, CancellationToken.None);

        Assert.Equal("swarm", backend.Name);
        var nodes = Assert.Single(report.Checks, c => c.Check == "nodes");
        Assert.Equal("ok", nodes.Status);
        Assert.Contains("2 of 2 node(s) take tasks", nodes.Detail, StringComparison.Ordinal);
        Assert.Contains($"{swarm.ManagerNodeName}: ready", nodes.Detail, StringComparison.Ordinal);
        Assert.Contains($"{swarm.WorkerNodeName}: ready", nodes.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_doctor_on_an_allow_config_finds_no_engine_a_task_could_use_since_every_engine_of_the_swarm_verifies_tls_clients()
    {
        await using var pipeline = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\"");
        var backend = await pipeline.Workspace.CurrentBackendAsync(CancellationToken.None);

        var report = await Doctor.ExamineAsync(pipeline.Repository.Path, backend, pipeline.Workspace.Git, _ => null, CancellationToken.None);

        Assert.Equal("ok", Assert.Single(report.Checks, c => c.Check == "docker").Status);
        Assert.Equal("ok", Assert.Single(report.Checks, c => c.Check == "nodes").Status);
        Assert.DoesNotContain(report.Checks, c => c.Check == "engine-api");
    }

    [Fact]
    public async Task The_doctor_reaching_the_same_swarm_without_tls_fails_an_allow_config_naming_the_node_engine()
    {
        await using var relay = new EngineRelay(swarm.Manager);
        await using var pipeline = await SwarmPipeline.OpenAsync(swarm, "\"network_policy\": \"allow\"", relay.Connection);
        var backend = await pipeline.Workspace.CurrentBackendAsync(CancellationToken.None);

        var report = await Doctor.ExamineAsync(pipeline.Repository.Path, backend, pipeline.Workspace.Git, _ => null, CancellationToken.None);

        var exposed = Assert.Single(report.Checks, c => c.Check == "engine-api");
        Assert.Equal("fail", exposed.Status);
        Assert.Contains($"the engine of swarm node '{swarm.WorkerNodeName}' answers plain TCP at {swarm.Worker.Endpoint}", exposed.Detail, StringComparison.Ordinal);
    }
}
