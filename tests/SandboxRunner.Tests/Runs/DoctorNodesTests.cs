using SandboxRunner.Boxes;
using SandboxRunner.Runs;

namespace SandboxRunner.Tests.Runs;

/// <summary>On a cluster the doctor lists its nodes, their state and free capacity, and says when none can take a task.</summary>
public sealed class DoctorNodesTests
{
    [Fact]
    public async Task A_cluster_backend_has_its_nodes_listed_with_their_state_and_free_places()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        bed.Backend.Nodes = [new BackendNode("manager", "ready, active, 3 of 4 task places free"), new BackendNode("worker", "ready, active, 4 of 4 task places free")];

        var nodes = Assert.Single((await ExamineAsync(bed)).Checks, c => c.Check == "nodes");

        Assert.Equal(Doctor.Ok, nodes.Status);
        Assert.Equal("fake: 2 of 2 node(s) take tasks\nmanager: ready, active, 3 of 4 task places free\nworker: ready, active, 4 of 4 task places free", nodes.Detail);
    }

    [Fact]
    public async Task A_node_that_takes_no_task_is_a_warning_and_no_node_at_all_a_failure_with_the_fix()
    {
        using var bed = await RunnerTestBed.CreateAsync();
        bed.Backend.Nodes = [new BackendNode("manager", "ready, active"), new BackendNode("worker", "down, active") { TakesBoxes = false }];
        Assert.Equal(Doctor.Warn, Assert.Single((await ExamineAsync(bed)).Checks, c => c.Check == "nodes").Status);

        bed.Backend.Nodes = [new BackendNode("worker", "down, active") { TakesBoxes = false }];
        var report = await ExamineAsync(bed);

        var nodes = Assert.Single(report.Checks, c => c.Check == "nodes");
        Assert.Equal(Doctor.Fail, nodes.Status);
        Assert.Contains("docker node update --label-add sandbox-runner.engine=", nodes.Fix, StringComparison.Ordinal);
        Assert.False(report.Ok);
    }

    [Fact]
    public async Task One_engine_has_no_nodes_check()
    {
        using var bed = await RunnerTestBed.CreateAsync();

        Assert.DoesNotContain((await ExamineAsync(bed)).Checks, c => c.Check == "nodes");
    }

    private static Task<DoctorReport> ExamineAsync(RunnerTestBed bed) =>
        Doctor.ExamineAsync(bed.Path, bed.Backend, bed.GitCli, _ => "sk-test", CancellationToken.None);
}
