using Microsoft.Extensions.Logging.Abstractions;
using SandboxRunner.Runs;

namespace SandboxRunner.IntegrationTests.Swarm;

/// <summary>
/// Placement is visible before a run: the doctor, on a repository whose config names the swarm, lists the real
/// swarm's nodes with their state, as <c>sandbox_doctor</c> and <c>doctor</c> compose it (the workspace's backend for
/// the config as it reads now).
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
}
