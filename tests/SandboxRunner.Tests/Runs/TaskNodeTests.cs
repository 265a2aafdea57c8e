using System.Text.Json;
using SandboxRunner.Runs;
using static SandboxRunner.Tests.Runs.RunnerTestBed;

namespace SandboxRunner.Tests.Runs;

/// <summary>Placement is visible: a result names the cluster node that ran its task, and says nothing of nodes on one engine.</summary>
public sealed class TaskNodeTests
{
    [Fact]
    public async Task A_task_whose_box_ran_on_a_node_names_that_node_in_its_result_and_its_stored_result()
    {
        using var bed = await CreateAsync();
        bed.Backend.Placement = box => box.Identity.TaskId == "t1" ? "node-a" : "node-b";

        var run = await bed.RunAsync(new RunRequest { RunId = "r", Tasks = [Ask("t1"), Ask("t2")] }, CancellationToken.None);

        Assert.Equal(["node-a", "node-b"], run.Results.OrderBy(r => r.TaskId, StringComparer.Ordinal).Select(r => r.Node));
        Assert.Equal("node-a", (await bed.StoredResultAsync("r", "t1")).Node);
    }

    [Fact]
    public async Task A_task_on_one_engine_has_no_node_field_at_all()
    {
        using var bed = await CreateAsync();

        var result = Assert.Single((await bed.RunAsync(Ask("t1"))).Results);

        Assert.Null(result.Node);
        Assert.False(JsonDocument.Parse(JsonSerializer.Serialize(result)).RootElement.TryGetProperty("node", out _));
    }
}
